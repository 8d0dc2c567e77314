package ring

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuf is a slog handler's output shared between goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) lines(level string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ln := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(ln, "level="+level) {
			out = append(out, ln)
		}
	}
	return out
}

// keysRig records 30 s of two cameras (10 blocks), closes the ring and
// returns what reopens it with a log captured.
func keysRig(t *testing.T) (*env, Options, *logBuf) {
	t.Helper()
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Hour
	r := mustOpen(t, o)
	id1, _ := r.AppendInit("cam1", initFor("cam1"))
	id2, _ := r.AppendInit("cam2", initFor("cam2"))
	for i := range 30 {
		appendSeq(t, r, e, "cam1", id1, i, i+1, fragSize)
		appendSeq(t, r, e, "cam2", id2, i, i+1, fragSize)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	lb := &logBuf{}
	o.Logger = slog.New(slog.NewTextHandler(lb, nil))
	return e, o, lb
}

func damagedAlert(r *Ring) string {
	for _, a := range r.Stats().Alerts {
		if a.Kind == AlertDamaged {
			return a.Detail
		}
	}
	return ""
}

// keys.dat gone (deleted, a disk replaced without it): every block's
// footage is unreadable. Recording goes on, and the loss is an alert, one
// ledgered event and one log line — not one per block, and not silence
// until somebody tries to watch.
func TestKeysDatLostIsShown(t *testing.T) {
	e, o, lb := keysRig(t)
	if err := os.Remove(filepath.Join(e.dir, "keys.dat")); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, o)
	defer r.Close()
	if d := damagedAlert(r); !strings.Contains(d, "keys.dat") {
		t.Fatalf("no alert names the lost keys: alerts %+v", r.Stats().Alerts)
	}
	evs := drainEvents(r)
	if n := countKind(evs, "damaged"); n != 1 {
		t.Fatalf("%d damaged events at open, want 1: %+v", n, evs)
	}
	if errs := lb.lines("ERROR"); len(errs) != 1 {
		t.Fatalf("%d error lines at open, want 1:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	spans, err := r.Coverage("cam1", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) == 0 {
		t.Fatal("coverage lists nothing for cam1")
	}
	for _, s := range spans {
		if !s.Damaged {
			t.Fatalf("coverage shows unreadable footage as recorded: %+v", spans)
		}
	}
	refs, _ := r.Fragments("cam1", t0, t0.Add(time.Hour))
	if _, err := r.ReadFragment(refs[0]); !errors.Is(err, ErrDamaged) {
		t.Fatalf("read of a block without its key: %v, want ErrDamaged", err)
	}
	// Recording goes on into fresh blocks, and reads back.
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 100, 106, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	refs, _ = r.Fragments("cam1", t0.Add(100*time.Second), t0.Add(time.Hour))
	if len(refs) != 6 {
		t.Fatalf("%d of 6 new fragments indexed", len(refs))
	}
	for _, f := range refs {
		if got, err := r.ReadFragment(f); err != nil || !bytes.Equal(got, payloadFor("cam1", fragIndex(f), fragSize)) {
			t.Fatalf("new fragment #%d: %v", fragIndex(f), err)
		}
	}
	// Once retention erases the keyless blocks, the alert goes.
	e.clock.Advance(2 * time.Hour)
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	if d := damagedAlert(r); d != "" {
		t.Fatalf("alert outlives the erased footage: %s", d)
	}
}

// A keys.dat cut short (a file system repair, a bad copy) must not stop
// recording: the slots that are gone read as missing keys.
func TestKeysDatTruncatedStillRecords(t *testing.T) {
	e, o, _ := keysRig(t)
	if err := os.Truncate(filepath.Join(e.dir, "keys.dat"), 3*slotSize+17); err != nil {
		t.Fatal(err)
	}
	r, err := Open(o)
	if err != nil {
		t.Fatalf("a short keys.dat stops the ring: %v", err)
	}
	defer r.Close()
	if d := damagedAlert(r); !strings.Contains(d, "keys.dat") {
		t.Fatalf("no alert names the lost keys: %+v", r.Stats().Alerts)
	}
	id, _ := r.AppendInit("cam3", initFor("cam3"))
	appendSeq(t, r, e, "cam3", id, 100, 120, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if refs := verifyAll(t, r, "cam3", fragSize); len(refs) != 20 {
		t.Fatalf("%d of 20 new fragments", len(refs))
	}
	fi, err := os.Stat(filepath.Join(e.dir, "keys.dat"))
	if err != nil || fi.Size() != int64(r.nblocks)*slotSize {
		t.Fatalf("keys.dat not restored to its size: %v %v", fi.Size(), err)
	}
}

// One slot's bytes flipped: that block alone is damaged.
func TestKeySlotCorruptedDamagesOneBlock(t *testing.T) {
	e, o, _ := keysRig(t)
	f, err := os.OpenFile(filepath.Join(e.dir, "keys.dat"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	invertByte(t, f, 0*slotSize+12) // block 0's key (random: flipped, never set to a value it may hold)
	f.Close()
	r := mustOpen(t, o)
	defer r.Close()
	if d := damagedAlert(r); !strings.Contains(d, "1 block") {
		t.Fatalf("alert %q, want one block named", d)
	}
	bad := 0
	for _, cam := range []string{"cam1", "cam2"} {
		refs, _ := r.Fragments(cam, t0, t0.Add(time.Hour))
		for _, ref := range refs {
			if _, err := r.ReadFragment(ref); errors.Is(err, ErrDamaged) {
				bad++
				if ref.Block != 0 {
					t.Fatalf("block %d damaged too", ref.Block)
				}
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	if bad == 0 {
		t.Fatal("block 0 reads although its key slot is corrupt")
	}
}
