package ring

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// A full disk under the ring: pwrite fails with ENOSPC (/dev/full stands in
// for ring.dat). The error reaches the caller, is counted, and recording
// resumes once writes succeed again, with nothing half-indexed.
func TestWriteErrorReturnedAndCounted(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to simulate ENOSPC: %v", err)
	}
	defer full.Close()
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 3, fragSize)

	good := r.f
	r.f = full
	err = r.AppendFragment(Fragment{Camera: "cam1", Start: t0.Add(3e9), Duration: 1e9, InitID: id, Payload: payloadFor("cam1", 3, fragSize)})
	r.f = good
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v", err)
	}
	st := r.Stats()
	if st.WriteErrors != 1 || st.LastWriteError == "" {
		t.Fatalf("stats after ENOSPC: %+v", st)
	}
	t.Log(st.LastWriteError)
	appendSeq(t, r, e, "cam1", id, 3, 8, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if refs := verifyAll(t, r, "cam1", fragSize); len(refs) != 8 {
		t.Fatalf("%d fragments after the disk recovered, want 8", len(refs))
	}
	checkTailsZero(t, r, e.dir)
}
