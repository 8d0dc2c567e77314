package ring

import (
	"context"
	"testing"
	"time"
)

// After hours switched off the ring has many expired blocks at once. Run
// erased them all in one sweep, and its data and index syncs waited for
// the whole catch-up: footage appended meanwhile was neither synced nor
// indexed, so a power cut then lost more than the stated 1.5 s. Run now
// erases a slice at a time and syncs in between.
func TestCatchUpSweepLetsSyncsThrough(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Capacity = 256 * o.BlockSize
	o.SyncInterval = 5 * time.Millisecond
	o.DataSyncInterval = 5 * time.Millisecond
	o.MaxBlockSpan = 2 * time.Second // Run sweeps every second
	o.Retention = time.Hour
	o.eraseBatch = 1 // a batch per block: many batches
	r := mustOpen(t, o)
	defer r.Close()
	id1, _ := r.AppendInit("cam1", initFor("cam1"))
	id2, _ := r.AppendInit("cam2", initFor("cam2"))
	appendSeq(t, r, e, "cam1", id1, 0, 200, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	expired := st.Blocks - st.FreeBlocks // every block of cam1, the open one too
	if expired < 4*sweepSlice {
		t.Fatalf("only %d blocks used; the test needs many more batches than a slice", expired)
	}
	e.clock.Advance(2 * time.Hour) // switched off: everything has expired

	entered := make(chan int, 2*expired)
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
			t.Fatal("the catch-up stopped")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	next() // the first batch of the catch-up is being proved
	late := e.clock.Now()
	appended := make(chan error, 1)
	go func() {
		appended <- r.AppendFragment(Fragment{Camera: "cam2", Start: late, Duration: time.Second,
			Keyframe: true, InitID: id2, Payload: payloadFor("cam2", 0, fragSize)})
	}()
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	visible := func() bool {
		refs, err := r.Fragments("cam2", late, late.Add(time.Second))
		return err == nil && len(refs) == 1
	}
	// Let the batches through one by one (one block each); the fragment
	// appended during the catch-up must be indexed before it ends.
	seenAt := 0
	for batch := 2; batch <= expired; batch++ {
		gate <- struct{}{}
		next()
		if seenAt == 0 && visible() {
			seenAt = batch
		}
	}
	close(gate)
	if seenAt == 0 {
		t.Fatalf("a fragment appended during a catch-up of %d batches was indexed only after it", expired)
	}
	t.Logf("catch-up of %d batches; the fragment appended during it was indexed by batch %d", expired, seenAt)
	waitUsed := time.Now().Add(30 * time.Second)
	for st := r.Stats(); st.Blocks-st.FreeBlocks > 1; st = r.Stats() { // cam2's block
		if time.Now().After(waitUsed) {
			t.Fatalf("%d blocks still used after the catch-up", st.Blocks-st.FreeBlocks)
		}
		time.Sleep(time.Millisecond)
	}
}

// During a ledger outage expired blocks lose their keys but stay erasing
// (their proofs not recorded); when the ledger is back Run finishes them.
// After an outage of hours those are thousands of blocks: Run finished
// them all in one go, and the data and index syncs waited for it, as in
// the catch-up above. The unfinished erasures are now sliced too.
func TestUnfinishedErasuresAfterALedgerOutageLetSyncsThrough(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Capacity = 256 * o.BlockSize
	o.SyncInterval = 5 * time.Millisecond
	o.DataSyncInterval = 5 * time.Millisecond
	o.MaxBlockSpan = 2 * time.Second // Run sweeps every second
	o.Retention = time.Hour
	o.eraseBatch = 1 // a batch per block: many batches
	r := mustOpen(t, o)
	defer r.Close()
	id1, _ := r.AppendInit("cam1", initFor("cam1"))
	id2, _ := r.AppendInit("cam2", initFor("cam2"))
	appendSeq(t, r, e, "cam1", id1, 0, 200, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	e.er.setFail(errLedgerDown)
	if err := r.Sweep(); err == nil {
		t.Fatal("a sweep with the ledger down reported no error")
	}
	e.er.setFail(nil)
	r.mu.Lock()
	unfinished := r.erasing.len()
	r.mu.Unlock()
	if unfinished < 4*sweepSlice {
		t.Fatalf("only %d erasures left unfinished; the test needs many more batches than a slice", unfinished)
	}

	entered := make(chan int, 2*unfinished)
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
			t.Fatal("the unfinished erasures stopped")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	next() // the first unfinished erasure is being proved
	late := e.clock.Now()
	if err := r.AppendFragment(Fragment{Camera: "cam2", Start: late, Duration: time.Second,
		Keyframe: true, InitID: id2, Payload: payloadFor("cam2", 0, fragSize)}); err != nil {
		t.Fatal(err)
	}
	visible := func() bool {
		refs, err := r.Fragments("cam2", late, late.Add(time.Second))
		return err == nil && len(refs) == 1
	}
	seenAt := 0
	for batch := 2; batch <= unfinished; batch++ {
		gate <- struct{}{}
		next()
		if seenAt == 0 && visible() {
			seenAt = batch
		}
	}
	close(gate)
	if seenAt == 0 {
		t.Fatalf("a fragment appended while %d unfinished erasures were finished was indexed only after them", unfinished)
	}
	t.Logf("%d unfinished erasures; the fragment appended meanwhile was indexed by batch %d", unfinished, seenAt)
	waitUsed := time.Now().Add(30 * time.Second)
	for st := r.Stats(); st.Blocks-st.FreeBlocks > 1; st = r.Stats() { // cam2's block
		if time.Now().After(waitUsed) {
			t.Fatalf("%d blocks still used after the unfinished erasures", st.Blocks-st.FreeBlocks)
		}
		time.Sleep(time.Millisecond)
	}
}
