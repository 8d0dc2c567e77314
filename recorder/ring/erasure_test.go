package ring

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"mimamori/core"
)

func countStates(r *Ring) map[blockState]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[blockState]int{}
	for _, m := range r.blocks {
		n[m.state]++
	}
	return n
}

func countFrags(t *testing.T, r *Ring, cam string, from, to time.Time) int {
	t.Helper()
	refs, err := r.Fragments(cam, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return len(refs)
}

func holdOn(cam string, from, to time.Duration) core.HoldRange {
	return core.HoldRange{HoldID: "h1", Camera: cam, From: t0.Add(from), To: t0.Add(to),
		Until: t0.Add(1000 * time.Hour)}
}

// With the ledger down, an append that must erase inline stops at the first
// failed erasure instead of zeroing every block of the ring.
func TestInlineErasureStopsAtLedgerOutage(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 96, fragSize) // 16 full blocks
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	e.er.setFail(errLedgerDown)
	err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0.Add(96 * time.Second), Duration: time.Second,
		InitID: id, Payload: payloadFor("cam1", 96, fragSize)})
	if !errors.Is(err, errLedgerDown) {
		t.Fatalf("append with the ledger down: %v, want the ledger's error", err)
	}
	if st := countStates(r); st[stateErasing] != 1 || st[stateSealed] != 15 {
		t.Fatalf("block states %v: want 1 erasing, 15 sealed", st)
	}
	if n := countFrags(t, r, "cam1", t0, t0.Add(time.Hour)); n != 90 {
		t.Fatalf("%d fragments indexed, want 90 (only the oldest block lost)", n)
	}
	e.er.setFail(nil)
	appendSeq(t, r, e, "cam1", id, 96, 97, fragSize)
	if err := sweepAt(r, e, t0.Add(97*time.Second)); err != nil {
		t.Fatal(err)
	}
	checkErasuresUnique(t, e.er.list())
}

// A block whose erasure failed before its erasing state was committed is
// still indexed; a hold placed before the retry protects it.
func TestUncommittedErasureRechecksHolds(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 30, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	errMark := errors.New("index write failed")
	r.failEraseMark = func(b uint32) error {
		if b == 0 {
			return errMark
		}
		return nil
	}
	if err := sweepAt(r, e, t0.Add(75*time.Second)); !errors.Is(err, errMark) {
		t.Fatalf("sweep: %v", err)
	}
	r.failEraseMark = nil
	e.holds.set(holdOn("cam1", 0, 6*time.Second))
	if err := sweepAt(r, e, t0.Add(76*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := countFrags(t, r, "cam1", t0, t0.Add(6*time.Second)); n != 6 {
		t.Fatalf("%d held fragments left, want 6", n)
	}
	for _, er := range e.er.list() {
		if er.Block == 0 {
			t.Fatalf("held block erased: %+v", er)
		}
	}
	verifyAll(t, r, "cam1", fragSize)
}

// A, B, A: the reused init becomes current again (and stays after a
// crash), so it survives the expiry of the blocks that used it; a new init
// never reuses an id.
func TestReusedInitStaysCurrent(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	a, _ := r.AppendInit("cam1", []byte("init-A"))
	appendSeq(t, r, e, "cam1", a, 0, 12, fragSize)
	b, _ := r.AppendInit("cam1", []byte("init-B"))
	appendSeq(t, r, e, "cam1", b, 100, 106, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, err := r.AppendInit("cam1", []byte("init-A")); err != nil || got != a {
		t.Fatalf("init A again: %d, %v; want %d", got, err, a)
	}
	crash(r)
	r = mustOpen(t, o)
	defer r.Close()
	if c, _ := r.lookupCamera("cam1"); c.lastInit != a {
		t.Fatalf("after reopen the current init is %d, want %d", c.lastInit, a)
	}
	if err := sweepAt(r, e, t0.Add(90*time.Second)); err != nil { // expires every block using A
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(107 * time.Second))
	if err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0.Add(106 * time.Second), Duration: time.Second,
		InitID: a, Payload: payloadFor("cam1", 106, fragSize)}); err != nil {
		t.Fatalf("fragment with the current init A: %v", err)
	}
	if c, err := r.AppendInit("cam1", []byte("init-C")); err != nil || c == a || c == b {
		t.Fatalf("new init C got id %d (%v); A is %d, B is %d", c, err, a, b)
	}
}

// Erasure destroys the block's key, which covers every byte sealed under
// it, including a torn record a failed write left beyond the used size.
func TestErasureCoversBytesBeyondUsed(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 7, fragSize) // block 0 full, block 1 open
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	m := r.blocks[0]
	r.mu.Unlock()
	key := blockKey(t, r, 0)
	torn := sealRecord(t, r.aeadFor(0, m.gen), recHeader{Kind: kindFragment, Camera: 1, Gen: m.gen, Seq: 99,
		Start: t0.Add(6 * time.Second).UnixNano(), Dur: 1e9, InitID: id, Nonce: 5}, payloadFor("cam1", 99, 2000))
	if _, err := r.f.WriteAt(torn[:len(torn)/2], int64(m.used)+8); err != nil {
		t.Fatal(err)
	}
	if err := sweepAt(r, e, t0.Add(75*time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(e.er.list()) == 0 || e.er.list()[0].Block != 0 {
		t.Fatalf("block 0 not erased: %+v", e.er.list())
	}
	checkKeysGone(t, e.dir, key)
	if k, ok := r.keys.keyFor(0, m.gen+1); !ok || *k == key {
		t.Fatal("block 0 has no fresh key for its next generation")
	}
}

// A sweep erasing many blocks lets Sync run between its batches.
func TestSweepLetsSyncRunBetweenErasures(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	o.eraseBatch = 2 // 15 blocks: 8 batches
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 90, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	synced := 0 // erasure call that first saw Sync finished
	e.er.hook = func(call int) {
		if call == 1 {
			go func() {
				r.Sync()
				close(done)
			}()
		}
		select {
		case <-done:
			if synced == 0 {
				synced = call
			}
		default:
		}
		time.Sleep(3 * time.Millisecond) // a slow ledger
	}
	if err := sweepAt(r, e, t0.Add(200*time.Second)); err != nil {
		t.Fatal(err)
	}
	n := len(e.er.list())
	if n < 10 {
		t.Fatalf("only %d blocks erased", n)
	}
	if synced == 0 {
		t.Fatalf("Sync waited for the whole sweep of %d erasures", n)
	}
	t.Logf("Sync finished before erasure %d of %d", synced, n)
}

// Holds are read again before each batch is marked: a hold placed while
// an earlier batch was erased protects its block.
func TestErasureBatchesRereadHolds(t *testing.T) {
	for _, tc := range []string{"refill", "sweep"} {
		t.Run(tc, func(t *testing.T) {
			e := newEnv(t)
			o := e.tinyOpts()
			o.Retention = time.Minute
			// Batches of one block (the tiny ring's reserve is two
			// blocks), of two for the sweep: block 1, resp. 2, is the
			// first of the second batch.
			o.eraseBatch = 1
			held := uint32(1)
			if tc == "sweep" {
				o.eraseBatch, held = 2, 2
			}
			from := time.Duration(held) * 6 * time.Second // 6 fragments of 1 s per block
			r := mustOpen(t, o)
			defer r.Close()
			id, _ := r.AppendInit("cam1", initFor("cam1"))
			n := 96
			if tc == "sweep" {
				n = 30
			}
			appendSeq(t, r, e, "cam1", id, 0, n, fragSize)
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
			e.er.hook = func(call int) {
				if call == 1 { // the first batch being recorded; a block of the next gets held
					e.holds.set(holdOn("cam1", from+time.Second, from+5*time.Second))
				}
			}
			var err error
			if tc == "refill" {
				err = r.RefillReserve()
			} else {
				err = sweepAt(r, e, t0.Add(100*time.Second))
			}
			if err != nil {
				t.Fatal(err)
			}
			ers := e.er.list()
			if len(ers) < 2 {
				t.Fatalf("%d erasures, want at least 2", len(ers))
			}
			for _, er := range ers {
				if er.Block == held {
					t.Fatalf("block held during an earlier batch was erased: %+v", er)
				}
			}
			if got := countFrags(t, r, "cam1", t0.Add(from), t0.Add(from+6*time.Second)); got != 6 {
				t.Fatal(fmt.Sprintf("%d fragments of the held block left, want 6", got))
			}
		})
	}
}
