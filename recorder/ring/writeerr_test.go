package ring

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
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

// A disk that fails every write (or a camera starved of blocks) fails
// every fragment of every camera: 64 a second. The log names the failure
// and then says how often it repeats — it must not get a line per
// fragment.
func TestRepeatedWriteErrorsLogByRate(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to simulate ENOSPC: %v", err)
	}
	defer full.Close()
	e := newEnv(t)
	o := e.tinyOpts()
	lb := &logBuf{}
	o.Logger = slog.New(slog.NewTextHandler(lb, nil))
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	id2, _ := r.AppendInit("cam2", initFor("cam2"))
	good := r.f
	r.f = full
	for i := range 200 {
		e.clock.Advance(100 * time.Millisecond)
		for _, c := range []struct {
			cam string
			id  uint32
		}{{"cam1", id}, {"cam2", id2}} {
			if err := r.AppendFragment(Fragment{Camera: c.cam, Start: e.clock.Now(), Duration: 1e9, InitID: c.id,
				Payload: payloadFor(c.cam, i, fragSize)}); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append %d: %v", i, err)
			}
		}
	}
	r.f = good
	if st := r.Stats(); st.WriteErrors != 400 {
		t.Fatalf("%d write errors counted, want 400", st.WriteErrors)
	}
	if lines := lb.lines("ERROR"); len(lines) > 3 {
		t.Fatalf("%d error lines for 400 failed appends:\n%s", len(lines), strings.Join(lines[:5], "\n"))
	}
}
