package ring

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// An fdatasync that fails (EIO from a dying disk) reports the error once:
// Linux then forgets it, and the next fdatasync succeeds although the
// pages written before never reached the disk. The footage written before
// a failed data sync must therefore never be indexed — the index only
// references what was synced — and the loss is counted, not hidden.
func TestFailedDataSyncIsNotRetriedIntoTheIndex(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 5, fragSize)
	fails := 1
	r.failDataSync = func() error {
		if fails > 0 {
			fails--
			return syscall.EIO
		}
		return nil
	}
	if err := r.SyncData(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("data sync: %v", err)
	}
	appendSeq(t, r, e, "cam1", id, 5, 8, fragSize) // after the failure: these are fine
	if err := r.Sync(); err != nil {
		t.Fatalf("the next sync: %v", err)
	}
	refs, err := r.Fragments("cam1", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range refs {
		if fragIndex(f) < 5 {
			t.Fatalf("fragment #%d, written before the failed sync, is indexed", fragIndex(f))
		}
	}
	if len(refs) != 3 {
		t.Fatalf("%d fragments indexed, want the 3 written after the failure", len(refs))
	}
	if st := r.Stats(); st.WriteErrors == 0 {
		t.Fatal("the failed sync is not counted")
	}
	if n := countKind(drainEvents(r), "write-error"); n != 1 {
		t.Fatalf("%d write-error events, want one for the fragments lost", n)
	}
	// The same when the index commit's own sync fails.
	fails = 1
	appendSeq(t, r, e, "cam1", id, 8, 10, fragSize)
	if err := r.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync: %v", err)
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := countFrags(t, r, "cam1", t0, t0.Add(time.Hour)); n != 3 {
		t.Fatalf("%d fragments indexed after a failed index sync, want still 3", n)
	}
}
