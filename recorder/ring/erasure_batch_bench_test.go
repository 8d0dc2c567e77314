package ring

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mimamori/core"
)

// countingLedger is core's store, counting what the ring hands it: calls
// (each one transaction, the ring calls from one goroutine at a time)
// and proofs.
type countingLedger struct {
	st            *core.Store
	calls, proofs atomic.Int64
}

func (l *countingLedger) RecordErasure(e core.Erasure) error {
	l.calls.Add(1)
	l.proofs.Add(1)
	return l.st.RecordErasure(e)
}

func (l *countingLedger) RecordErasures(es []core.Erasure) error {
	l.calls.Add(1)
	l.proofs.Add(int64(len(es)))
	return l.st.RecordErasures(es)
}

// BenchmarkErasureCommits64Cameras records 64 cameras at their real rate
// (one 500 kB fragment per camera per second) into a 512 MiB ring with
// the real core as the ledger, for MIMAMORI_RING_BENCH_SECONDS (default
// 40), and reports ledger commits per erased block. "wrap": the ring
// overwrites (the reserve erases); "retention": footage expires after 8 s
// of ring time before the ring is full (the sweep erases). Run with
// -benchtime 1x.
func BenchmarkErasureCommits64Cameras(b *testing.B) {
	for _, mode := range []string{"wrap", "retention"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				benchErasureCommits(b, mode)
			}
		})
	}
}

func benchErasureCommits(b *testing.B, mode string) {
	const cams, fragBytes = 64, 500_000
	secs := 40
	if v, err := strconv.Atoi(os.Getenv("MIMAMORI_RING_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	dir := b.TempDir()
	st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var regs []core.Camera
	for c := range cams {
		regs = append(regs, core.Camera{ID: fmt.Sprintf("cam%d", c), Number: strconv.Itoa(c + 1), Name: "c", URL: "rtsp://127.0.0.1/x"})
	}
	if err := st.SyncCameras(core.SystemActor("config"), regs); err != nil {
		b.Fatal(err)
	}
	led := &countingLedger{st: st}
	o := Options{Dir: dir, Capacity: 512 << 20, Erasures: led, Holds: st}
	if mode == "retention" {
		o.Retention, o.MaxBlockSpan = 8*time.Second, 4*time.Second
	}
	r, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	ids := make([]uint32, cams)
	payloads := make([][]byte, cams)
	for c := range cams {
		name := fmt.Sprintf("cam%d", c)
		ids[c], _ = r.AppendInit(name, initFor(name))
		payloads[c] = payloadFor(name, c, fragBytes)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for c := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("cam%d", c)
			next := start.Add(time.Duration(c) * time.Second / cams)
			for i := range secs {
				time.Sleep(time.Until(next))
				next = next.Add(time.Second)
				if err := r.AppendFragment(Fragment{Camera: name, Start: start.Add(time.Duration(i) * time.Second),
					Duration: time.Second, Keyframe: true, InitID: ids[c], Payload: payloads[c]}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	<-done
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	st0 := r.Stats()
	var erased uint64
	for _, c := range st0.Erased {
		erased += c.Blocks
	}
	if erased == 0 {
		b.Fatal("nothing erased")
	}
	b.ReportMetric(float64(erased), "erased-blocks")
	b.ReportMetric(float64(led.calls.Load())/float64(erased), "ledger-commits/block")
	b.ReportMetric(float64(led.proofs.Load())/float64(led.calls.Load()), "proofs/commit")
	b.ReportMetric(float64(r.InlineErasures()), "inline-erasures")
}

// A sweep hands the ledger a batch's proofs in one call (one commit in
// core), and only once every key of the batch is gone from keys.dat.
func TestSweepRecordsABatchInOneCall(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 90, fragSize) // 15 blocks
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	var keys [][keySize]byte
	for b := range uint32(14) {
		keys = append(keys, blockKey(t, r, b))
	}
	e.er.hook = func(int) { checkKeysGone(t, e.dir, keys...) } // durable before the proof
	if err := sweepAt(r, e, t0.Add(200*time.Second)); err != nil {
		t.Fatal(err)
	}
	ers := e.er.list()
	checkErasuresUnique(t, ers)
	e.er.mu.Lock()
	calls, batches := e.er.calls, e.er.batches
	e.er.mu.Unlock()
	if len(ers) < 14 || calls != 1 || len(batches) != 1 || batches[0] != len(ers) {
		t.Fatalf("%d blocks erased in %d ledger calls (batches %v), want one call", len(ers), calls, batches)
	}
}
