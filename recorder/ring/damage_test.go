package ring

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// flipByte flips one bit of ring.dat at off.
func flipByte(t *testing.T, dir string, off int64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "ring.dat"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// A byte flipped in a sealed block: reads of that fragment say "damaged"
// (not "no longer in the ring"), the damage is ledgered once, Coverage
// shows the damaged interval between two recorded spans, health counts it
// and raises an alert, a restart remembers it, and erasing the block ends it.
func TestFlippedByteIsDamagedNotStale(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Hour
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 12, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	refs := verifyAll(t, r, "cam1", fragSize)
	bad := refs[3]
	flipByte(t, e.dir, int64(bad.Block)*r.bs+bad.Offset+5000)

	for range 2 {
		_, err := r.ReadFragment(bad)
		if !errors.Is(err, ErrDamaged) || errors.Is(err, ErrStale) {
			t.Fatalf("reading the flipped fragment: %v, want ErrDamaged", err)
		}
	}
	if _, err := r.ReadFragment(refs[4]); err != nil {
		t.Fatalf("the next fragment: %v", err)
	}
	if evs := drainEvents(r); countKind(evs, "damaged") != 1 {
		t.Fatalf("events %+v: want one damaged", evs)
	}
	check := func(r *Ring) {
		t.Helper()
		spans, err := r.Coverage("cam1", t0, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) != 3 || spans[1].Damaged != true || !spans[1].Start.Equal(t0.Add(3*time.Second)) ||
			!spans[1].End.Equal(t0.Add(4*time.Second)) || spans[0].Damaged || spans[2].Damaged ||
			!spans[0].End.Equal(t0.Add(3*time.Second)) || !spans[2].Start.Equal(t0.Add(4*time.Second)) {
			t.Fatalf("coverage %+v: want [0,3) recorded, [3,4) damaged, [4,12) recorded", spans)
		}
		st := r.Stats()
		if st.DamagedFragments != 1 || len(st.Damaged) != 1 {
			t.Fatalf("stats: %d damaged, %+v", st.DamagedFragments, st.Damaged)
		}
		found := false
		for _, a := range st.Alerts {
			found = found || a.Kind == AlertDamaged
		}
		if !found {
			t.Fatalf("no damaged-footage alert in %+v", st.Alerts)
		}
	}
	check(r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, o)
	defer r.Close()
	check(r)
	if _, err := r.ReadFragment(bad); !errors.Is(err, ErrDamaged) {
		t.Fatalf("after restart: %v", err)
	}
	if evs := drainEvents(r); countKind(evs, "damaged") != 0 {
		t.Fatal("damage ledgered again after a restart")
	}
	// Expired and erased: no longer damaged, just gone.
	e.clock.Advance(2 * time.Hour)
	r.Sweep()
	r.Sweep()
	if st := r.Stats(); st.DamagedFragments != 0 {
		t.Fatalf("%d damaged fragments after their block was erased", st.DamagedFragments)
	}
	if _, err := r.ReadFragment(bad); !errors.Is(err, ErrStale) {
		t.Fatalf("erased fragment: %v, want ErrStale", err)
	}
}
