package ring

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A damaged index.db (a page overwritten) made Open panic inside bbolt:
// serve crashed and, restarted, crashed again, with no word of what was
// wrong. Open must fail with ErrCorrupt naming the file and what to do.
func TestDamagedIndexIsAnErrorNotAPanic(t *testing.T) {
	for _, page := range []int64{6, 8} {
		e := newEnv(t)
		o := e.tinyOpts()
		r := mustOpen(t, o)
		id, _ := r.AppendInit("cam1", initFor("cam1"))
		appendSeq(t, r, e, "cam1", id, 0, 40, fragSize)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(e.dir, "index.db"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 64)
		for i := range junk {
			junk[i] = 0xee
		}
		if _, err := f.WriteAt(junk, page*4096); err != nil {
			t.Fatal(err)
		}
		f.Close()
		func() {
			defer func() {
				if x := recover(); x != nil {
					t.Fatalf("page %d damaged: Open panicked: %v", page, x)
				}
			}()
			r, err := Open(o)
			if err == nil {
				r.Close()
				t.Fatalf("page %d damaged: Open succeeded", page)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "index.db") {
				t.Fatalf("page %d damaged: %v", page, err)
			}
			t.Log(err)
		}()
	}
}

// index.db moved aside (what the error above tells an operator to do) or
// lost: the ring starts afresh and the footage of the old index can no
// longer be read — its keys are replaced. That is said once, not silent.
func TestFreshIndexOverOldKeysIsReported(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 40, fragSize)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(e.dir, "index.db"), filepath.Join(e.dir, "index.db.damaged")); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, o)
	defer r.Close()
	evs := drainEvents(r)
	if n := countKind(evs, "damaged"); n != 1 {
		t.Fatalf("%d damaged events, want 1: %+v", n, evs)
	}
	for _, ev := range evs {
		if ev.kind == "damaged" && !strings.Contains(ev.details["reason"], "index.db") {
			t.Fatalf("event does not say why: %+v", ev)
		}
	}
}
