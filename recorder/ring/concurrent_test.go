package ring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Many cameras append at once while the background loop syncs, a sweeper
// erases and readers query: run with -race. Reads may find a block
// overwritten (ErrStale) but never bytes that fail verification.
func TestConcurrentCamerasWithSyncAndSweep(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Capacity = 32 * 64 << 10
	o.SyncInterval = 5 * time.Millisecond
	o.Retention = 20 * time.Second
	e.clock.Set(t0)
	r := mustOpen(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { r.Run(ctx); close(runDone) }()

	const cams, n = 8, 120
	var wg sync.WaitGroup
	for c := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("cam%d", c)
			id, err := r.AppendInit(name, initFor(name))
			if err != nil {
				t.Error(err)
				return
			}
			for i := range n {
				st := t0.Add(time.Duration(i) * time.Second)
				if err := r.AppendFragment(Fragment{Camera: name, Start: st, Duration: time.Second,
					InitID: id, Payload: payloadFor(name, i, 3000+i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	rg.Add(1)
	go func() {
		defer rg.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			now := t0.Add(min(time.Duration(k)*50*time.Millisecond, 100*time.Second))
			_ = sweepAt(r, e, now)
			_ = r.CheckHold("cam1", t0, now, nil)
			_ = r.Stats()
			refs, _ := r.Fragments("cam2", t0, t0.Add(time.Hour))
			for _, f := range refs {
				p, err := r.ReadFragment(f)
				if err != nil && !errors.Is(err, ErrStale) {
					t.Errorf("read %s: %v", f.Start, err)
				}
				if err == nil && string(p) != string(payloadFor("cam2", fragIndex(f), 3000+fragIndex(f))) {
					t.Errorf("cam2 #%d differs", fragIndex(f))
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	rg.Wait()
	cancel()
	<-runDone
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	checkErasuresUnique(t, e.er.list())
	r = mustOpen(t, o)
	defer r.Close()
	for c := range cams {
		name := fmt.Sprintf("cam%d", c)
		refs, _ := r.Fragments(name, t0, t0.Add(time.Hour))
		if len(refs) == 0 || fragIndex(refs[len(refs)-1]) != n-1 {
			t.Fatalf("%s: newest footage missing after close/reopen", name)
		}
		for _, f := range refs {
			if p, err := r.ReadFragment(f); err != nil || string(p) != string(payloadFor(name, fragIndex(f), 3000+fragIndex(f))) {
				t.Fatalf("%s #%d: %v", name, fragIndex(f), err)
			}
		}
	}
	checkTailsZero(t, r, e.dir)
}
