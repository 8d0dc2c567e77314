package ring

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// waitFree polls until at least n blocks are free; the deadline is a
// safety net for a broken refill, not a timing assertion.
func waitFree(t *testing.T, r *Ring, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.Stats().FreeBlocks < n {
		if time.Now().After(deadline) {
			t.Fatalf("reserve never refilled: %d free blocks, want %d", r.Stats().FreeBlocks, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// With Run going, a full ring keeps erased blocks in reserve: appends take
// a free block and never erase inline, and every overwritten block has
// exactly one erasure proof.
func TestReserveRefilledByRun(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Capacity = 32 * o.BlockSize // reserve: min(max(2, 2/4), 32/8) = 2
	o.SyncInterval = 5 * time.Millisecond
	r := mustOpen(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	cams := []string{"cam1", "cam2"}
	ids := map[string]uint32{}
	for _, c := range cams {
		id, err := r.AppendInit(c, initFor(c))
		if err != nil {
			t.Fatal(err)
		}
		ids[c] = id
	}
	const n = 400 // about 4 laps of the ring
	for i := range n {
		for _, c := range cams {
			waitFree(t, r, 2)
			appendSeq(t, r, e, c, ids[c], i, i+1, fragSize)
		}
	}
	cancel()
	<-done
	defer r.Close()
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}

	if got := r.InlineErasures(); got != 0 {
		t.Fatalf("%d inline erasures; the reserve should have served every new block", got)
	}
	ers := e.er.list()
	checkErasuresUnique(t, ers)
	if len(ers) == 0 || uint64(len(ers)) != r.ReserveErasures() {
		t.Fatalf("%d erasure proofs, %d reserve erasures: want one proof per erased block", len(ers), r.ReserveErasures())
	}
	for _, er := range ers {
		if er.Reason != "overwrite" {
			t.Fatalf("reason %q, want overwrite", er.Reason)
		}
	}
	for _, c := range cams {
		refs := verifyAll(t, r, c, fragSize)
		for i, f := range refs {
			if fragIndex(f) != n-len(refs)+i {
				t.Fatalf("%s: fragment %d at position %d; want a contiguous tail ending at %d", c, fragIndex(f), i, n-1)
			}
		}
		// The reserve costs at most its own blocks of footage.
		if min := (32 - 2 - 2) * 6 / 2; len(refs) < min {
			t.Fatalf("%s: %d fragments kept, want at least %d", c, len(refs), min)
		}
	}
	checkTailsZero(t, r, e.dir)
}

// Without Run nothing refills the reserve: appends fall back to erasing
// the oldest block themselves.
func TestInlineErasureFallback(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, err := r.AppendInit("cam1", initFor("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	appendSeq(t, r, e, "cam1", id, 0, 200, fragSize)
	if r.InlineErasures() == 0 || r.ReserveErasures() != 0 {
		t.Fatalf("inline %d reserve %d: want inline erasures only", r.InlineErasures(), r.ReserveErasures())
	}
	if got := uint64(len(e.er.list())); got != r.InlineErasures() {
		t.Fatalf("%d erasure proofs for %d erased blocks", got, r.InlineErasures())
	}
	checkErasuresUnique(t, e.er.list())
}

// A fragment handed over as Payload and Tail is stored as one payload.
func TestAppendPayloadAndTail(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, err := r.AppendInit("cam1", initFor("cam1"))
	if err != nil {
		t.Fatal(err)
	}
	whole := payloadFor("cam1", 0, 5003)
	if err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0, Duration: time.Second, Keyframe: true,
		InitID: id, Payload: whole[:77], Tail: whole[77:]}); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	refs, err := r.Fragments("cam1", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil || len(refs) != 1 {
		t.Fatalf("Fragments: %v, %d refs", err, len(refs))
	}
	got, err := r.ReadFragment(refs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, whole) {
		t.Fatal("payload+tail did not read back as one payload")
	}
}

// A fragment larger than the sealing buffer is sealed and written in runs
// and reads back bit for bit.
func TestAppendLargerThanScratch(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.BlockSize, o.Capacity = 4<<20, 16<<20
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	n := 3*scratchSize + 12345
	p := payloadFor("cam1", 0, n)
	if err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0, Duration: time.Second, Keyframe: true,
		InitID: id, Payload: p[:n/3], Tail: p[n/3:]}); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if refs := verifyAll(t, r, "cam1", n); len(refs) != 1 {
		t.Fatalf("%d fragments", len(refs))
	}
	crash(r)
	r = mustOpen(t, o) // recovery reads it too
	defer r.Close()
	verifyAll(t, r, "cam1", n)
}

// Run makes appended footage durable every DataSyncInterval on its own,
// without waiting for the index commit: that interval bounds what a power
// loss can take (with the fragment being assembled).
func TestRunSyncsDataWithinInterval(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.DataSyncInterval = 20 * time.Millisecond // SyncInterval stays an hour
	r := mustOpen(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; r.Close() }()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 3, fragSize)
	w := r.written.Load()
	deadline := time.Now().Add(10 * time.Second)
	for r.dataSynced.Load() < w {
		if time.Now().After(deadline) {
			t.Fatalf("appended data not synced by Run: %d of %d bytes", r.dataSynced.Load(), w)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := countFrags(t, r, "cam1", t0, t0.Add(time.Hour)); n != 0 {
		t.Fatalf("%d fragments indexed: the data sync must not wait for (or do) the index commit", n)
	}
}
