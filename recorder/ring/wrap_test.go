package ring

import (
	"errors"
	"testing"
	"time"

	"mimamori/core"
)

const fragSize = 10_000 // 6 records per 64 KiB block

func TestWrapAroundOverwritesOldest(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	ids := map[string]uint32{}
	for _, c := range []string{"cam1", "cam2"} {
		id, err := r.AppendInit(c, initFor(c))
		if err != nil {
			t.Fatal(err)
		}
		ids[c] = id
	}
	const n = 300 // 600 records, about 6 laps of the ring
	for i := range n {
		for _, c := range []string{"cam1", "cam2"} {
			appendSeq(t, r, e, c, ids[c], i, i+1, fragSize)
		}
		if i%7 == 0 {
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	ers := e.er.list()
	checkErasuresUnique(t, ers)
	var erased int64
	for _, er := range ers {
		if er.Reason != "overwrite" {
			t.Fatalf("reason %q", er.Reason)
		}
		erased += er.Bytes
	}
	for _, c := range []string{"cam1", "cam2"} {
		refs := verifyAll(t, r, c, fragSize)
		if len(refs) < 30 {
			t.Fatalf("%s: only %d fragments left", c, len(refs))
		}
		// What survives is the newest, contiguous footage.
		for i, f := range refs {
			if fragIndex(f) != n-len(refs)+i {
				t.Fatalf("%s: fragment %d at position %d; want a contiguous tail ending at %d", c, fragIndex(f), i, n-1)
			}
		}
		oldest := refs[0].Start
		for _, er := range ers {
			if er.Camera == c && !er.To.Before(oldest.Add(time.Nanosecond)) && er.From.After(oldest) {
				t.Fatalf("%s: erasure %+v overlaps surviving footage from %s", c, er, oldest)
			}
		}
		if o, b := r.CameraRetention(c); !o.Equal(oldest) || b <= 0 {
			t.Fatalf("CameraRetention(%s) = %s, %d; want %s", c, o, b, oldest)
		}
	}
	// Every byte ever written is either still in a block or in an erasure.
	st := r.Stats()
	if got, want := erased+st.UsedBytes, r.written.Load(); got != want {
		t.Fatalf("erased %d + used %d = %d, written %d", erased, st.UsedBytes, got, want)
	}
	if st.FreeBlocks != 0 || st.Blocks != 16 || st.WriteErrors != 0 {
		t.Fatalf("stats: %+v", st)
	}
	checkTailsZero(t, r, e.dir)
}

func TestRetentionExpiresWithSpaceLeft(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 30, fragSize) // 5 blocks of 6 s
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := sweepAt(r, e, t0.Add(31*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.er.list()); n != 0 {
		t.Fatalf("%d erasures before anything expired", n)
	}
	keys := [][keySize]byte{blockKey(t, r, 0), blockKey(t, r, 1)}
	// Cutoff 15 s: the blocks ending at 6 s and 12 s go.
	if err := sweepAt(r, e, t0.Add(75*time.Second)); err != nil {
		t.Fatal(err)
	}
	ers := e.er.list()
	if len(ers) != 2 {
		t.Fatalf("erasures: %+v", ers)
	}
	for i, er := range ers {
		if er.Reason != "retention" || er.Camera != "cam1" ||
			!er.From.Equal(t0.Add(time.Duration(6*i)*time.Second)) || !er.To.Equal(t0.Add(time.Duration(6*i+6)*time.Second)) {
			t.Fatalf("erasure %d: %+v", i, er)
		}
	}
	checkKeysGone(t, e.dir, keys...)
	refs := verifyAll(t, r, "cam1", fragSize)
	if len(refs) != 18 || fragIndex(refs[0]) != 12 {
		t.Fatalf("after expiry: %d fragments from #%d", len(refs), fragIndex(refs[0]))
	}
	if st := r.Stats(); st.FreeBlocks != 13 {
		t.Fatalf("free blocks %d, want 13", st.FreeBlocks)
	}
	// The last block is still open (idle camera); the sweep seals it by age.
	if err := sweepAt(r, e, t0.Add(100*time.Second)); err != nil {
		t.Fatal(err)
	}
	checkErasuresUnique(t, e.er.list())
	if n := len(e.er.list()); n != 5 {
		t.Fatalf("%d erasures, want 5", n)
	}
	if refs, _ := r.Fragments("cam1", t0, t0.Add(time.Hour)); len(refs) != 0 {
		t.Fatalf("%d fragments survive retention", len(refs))
	}
	checkTailsZero(t, r, e.dir)
	// The init segment stays available: it is the camera's current one.
	if _, err := r.Init("cam1", id); err != nil {
		t.Fatal(err)
	}
}

func TestHoldsSurviveWraps(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	ids := map[string]uint32{}
	for _, c := range []string{"cam1", "cam2"} {
		ids[c], _ = r.AppendInit(c, initFor(c))
	}
	e.holds.set(core.HoldRange{HoldID: "h1", Camera: "cam1",
		From: t0.Add(8 * time.Second), To: t0.Add(10 * time.Second), Until: t0.Add(1000 * time.Hour)})
	write := func(from, to int) {
		for i := from; i < to; i++ {
			for _, c := range []string{"cam1", "cam2"} {
				appendSeq(t, r, e, c, ids[c], i, i+1, fragSize)
			}
		}
		if err := r.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 300) // about 6 laps
	refs := verifyAll(t, r, "cam1", fragSize)
	have := map[int]bool{}
	for _, f := range refs {
		have[fragIndex(f)] = true
	}
	for i := 8; i < 10; i++ {
		if !have[i] {
			t.Fatalf("held fragment %d was overwritten", i)
		}
	}
	if have[20] || !have[299] {
		t.Fatal("unheld footage was not overwritten normally")
	}
	if st := r.Stats(); st.HeldBytes != 0 {
		// HeldBytes is refreshed by sweeps; none ran yet.
		t.Logf("held bytes %d", st.HeldBytes)
	}
	if err := sweepAt(r, e, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.HeldBytes != r.bs {
		t.Fatalf("held bytes %d, want one block", st.HeldBytes)
	}
	// Released: the block is overwritten like any other.
	e.holds.set()
	write(300, 400)
	refs = verifyAll(t, r, "cam1", fragSize)
	if fragIndex(refs[0]) < 300 {
		t.Fatalf("released footage #%d still present", fragIndex(refs[0]))
	}
	ers := e.er.list()
	checkErasuresUnique(t, ers)
	n := 0
	for _, er := range ers {
		if er.Camera == "cam1" && !er.From.After(t0.Add(8*time.Second)) && er.To.After(t0.Add(9*time.Second)) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("held block erased %d times, want exactly once after release", n)
	}
	checkTailsZero(t, r, e.dir)
}

func TestRingFullOfHoldsRefusesAppend(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	e.holds.set(core.HoldRange{Camera: "cam1", From: t0, To: t0.Add(time.Hour), Until: t0.Add(1000 * time.Hour)})
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		st := t0.Add(time.Duration(i) * time.Second)
		err = r.AppendFragment(Fragment{Camera: "cam1", Start: st, Duration: time.Second, InitID: id, Payload: payloadFor("cam1", i, fragSize)})
	}
	if !errors.Is(err, ErrRingFull) {
		t.Fatalf("append into a fully held ring: %v", err)
	}
	if st := r.Stats(); st.WriteErrors == 0 || st.LastWriteError == "" {
		t.Fatalf("full ring not reported in stats: %+v", st)
	}
	if n := len(e.er.list()); n != 0 {
		t.Fatalf("held footage erased: %d", n)
	}
}

func TestCheckHold(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts()) // 1 MiB, hold limit 256 KiB = 4 blocks
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 60, fragSize) // 10 blocks, 10 kB/s
	r.Sync()
	now := e.clock.Now()
	if err := r.CheckHold("cam1", t0, t0.Add(6*time.Second), nil); err != nil {
		t.Fatalf("one-block hold refused: %v", err)
	}
	err := r.CheckHold("cam1", t0, t0.Add(30*time.Second), nil)
	if !errors.Is(err, core.ErrHoldCapacity) {
		t.Fatalf("5-block hold: %v", err)
	}
	t.Log(err)
	active := []core.HoldRange{{Camera: "cam1", From: t0.Add(12 * time.Second), To: t0.Add(30 * time.Second), Until: now.Add(time.Hour)}}
	if err := r.CheckHold("cam1", t0, t0.Add(6*time.Second), active); err != nil {
		t.Fatalf("3+1 blocks refused: %v", err)
	}
	if err := r.CheckHold("cam1", t0, t0.Add(12*time.Second), active); !errors.Is(err, core.ErrHoldCapacity) {
		t.Fatalf("3+2 blocks: %v", err)
	}
	// A lapsed hold does not count.
	active[0].Until = now.Add(-time.Second)
	if err := r.CheckHold("cam1", t0, t0.Add(12*time.Second), active); err != nil {
		t.Fatalf("lapsed hold counted: %v", err)
	}
	// The future is estimated at the recent rate: an hour at 10 kB/s is 36 MB.
	if err := r.CheckHold("cam1", now, now.Add(time.Hour), nil); !errors.Is(err, core.ErrHoldCapacity) {
		t.Fatalf("hour-long future hold: %v", err)
	}
	if err := r.CheckHold("cam1", now, now.Add(10*time.Second), nil); err != nil {
		t.Fatalf("10 s future hold: %v", err)
	}
}

// An init segment stays in index.db while any fragment in the ring decodes
// with it, even after the block holding its own record is gone, and is
// dropped once the last such fragment expires.
func TestInitKeptWhileReferenced(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	defer r.Close()
	old, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", old, 0, 12, fragSize) // blocks 0-1, init record in block 0
	newer, err := r.AppendInit("cam1", []byte("ftypmoov-after-reconnect"))
	if err != nil || newer == old {
		t.Fatalf("new init: id %d err %v", newer, err)
	}
	appendSeq(t, r, e, "cam1", newer, 12, 30, fragSize)
	r.Sync()
	// Block 0 (old init record and #0..#5) expires; #6..#11 still use it.
	if err := sweepAt(r, e, t0.Add(70*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Init("cam1", old); err != nil {
		t.Fatalf("init still referenced was dropped: %v", err)
	}
	if err := sweepAt(r, e, t0.Add(73*time.Second)); err != nil {
		t.Fatal(err)
	}
	if refs, _ := r.Fragments("cam1", t0, t0.Add(12*time.Second)); len(refs) != 0 {
		t.Fatalf("%d old-init fragments left", len(refs))
	}
	if _, err := r.Init("cam1", old); !errors.Is(err, ErrUnknownInit) {
		t.Fatalf("unreferenced init kept: %v", err)
	}
	if _, err := r.Init("cam1", newer); err != nil {
		t.Fatal(err)
	}
}
