package ring

import (
	"context"
	"testing"
	"time"
)

// catchUpRing is a ring whose cam1 holds about a hundred sealed blocks, each
// erased in a batch of its own, with Run sweeping every second and syncing
// every 5 ms; cam2 has an init and no footage yet.
func catchUpRing(t *testing.T) (e *env, r *Ring, cam2Init uint32) {
	t.Helper()
	e = newEnv(t)
	o := e.tinyOpts()
	o.Capacity = 256 * o.BlockSize
	o.SyncInterval = 5 * time.Millisecond
	o.DataSyncInterval = 5 * time.Millisecond
	o.MaxBlockSpan = 2 * time.Second // Run sweeps every second
	o.Retention = time.Hour
	o.eraseBatch = 1 // a batch per block: many batches
	r = mustOpen(t, o)
	t.Cleanup(func() { r.Close() })
	id1, _ := r.AppendInit("cam1", initFor("cam1"))
	cam2Init, _ = r.AppendInit("cam2", initFor("cam2"))
	appendSeq(t, r, e, "cam1", id1, 0, 200, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	return e, r, cam2Init
}

// batchOfIndexing runs Run over a pending run of batches erasures (one
// ledger call each), lets the calls through one at a time, appends a
// fragment for cam2 while the first is held, and returns the batch by
// which that fragment was indexed (0: only after the last). It then waits
// for every block but cam2's to be free.
func batchOfIndexing(t *testing.T, e *env, r *Ring, cam2Init uint32, batches int) int {
	t.Helper()
	if batches < 4*sweepSlice {
		t.Fatalf("only %d batches; the test needs many more than a slice", batches)
	}
	entered := make(chan int, 2*batches)
	gate := make(chan struct{})
	e.er.mu.Lock()
	e.er.hook = func(call int) {
		entered <- call
		<-gate
	}
	e.er.mu.Unlock()
	next := func() {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(30 * time.Second): // a safety net, not a timing
			t.Fatal("the erasures stopped")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	next() // the first batch is being proved
	late := e.clock.Now()
	if err := r.AppendFragment(Fragment{Camera: "cam2", Start: late, Duration: time.Second,
		Keyframe: true, InitID: cam2Init, Payload: payloadFor("cam2", 0, fragSize)}); err != nil {
		t.Fatal(err)
	}
	visible := func() bool {
		refs, err := r.Fragments("cam2", late, late.Add(time.Second))
		return err == nil && len(refs) == 1
	}
	seenAt := 0
	for batch := 2; batch <= batches; batch++ {
		gate <- struct{}{}
		next()
		if seenAt == 0 && visible() {
			seenAt = batch
		}
	}
	close(gate)
	waitUsed := time.Now().Add(30 * time.Second)
	for st := r.Stats(); st.Blocks-st.FreeBlocks > 1; st = r.Stats() { // cam2's block
		if time.Now().After(waitUsed) {
			t.Fatalf("%d blocks still used after the erasures", st.Blocks-st.FreeBlocks)
		}
		time.Sleep(time.Millisecond)
	}
	return seenAt
}

// After hours switched off the ring has many expired blocks at once. Run
// erased them all in one sweep, and its data and index syncs waited for
// the whole catch-up: footage appended meanwhile was neither synced nor
// indexed, so a power cut then lost more than the stated 1.5 s. Run now
// erases a slice at a time and syncs in between.
func TestCatchUpSweepLetsSyncsThrough(t *testing.T) {
	e, r, cam2 := catchUpRing(t)
	st := r.Stats()
	expired := st.Blocks - st.FreeBlocks // every block of cam1, the open one too
	e.clock.Advance(2 * time.Hour)       // switched off: everything has expired
	seenAt := batchOfIndexing(t, e, r, cam2, expired)
	if seenAt == 0 {
		t.Fatalf("a fragment appended during a catch-up of %d batches was indexed only after it", expired)
	}
	t.Logf("catch-up of %d batches; the fragment appended during it was indexed by batch %d", expired, seenAt)
}

// During a ledger outage expired blocks lose their keys but stay erasing
// (their proofs not recorded); when the ledger is back Run finishes them.
// After an outage of hours those are thousands of blocks: Run finished
// them all in one go, and the data and index syncs waited for it, as in
// the catch-up above. The unfinished erasures are now sliced too.
func TestUnfinishedErasuresAfterALedgerOutageLetSyncsThrough(t *testing.T) {
	e, r, cam2 := catchUpRing(t)
	e.clock.Advance(2 * time.Hour)
	e.er.setFail(errLedgerDown)
	if err := r.Sweep(); err == nil {
		t.Fatal("a sweep with the ledger down reported no error")
	}
	e.er.setFail(nil)
	r.mu.Lock()
	unfinished := r.erasing.len()
	r.mu.Unlock()
	seenAt := batchOfIndexing(t, e, r, cam2, unfinished)
	if seenAt == 0 {
		t.Fatalf("a fragment appended while %d unfinished erasures were finished was indexed only after them", unfinished)
	}
	t.Logf("%d unfinished erasures; the fragment appended meanwhile was indexed by batch %d", unfinished, seenAt)
}
