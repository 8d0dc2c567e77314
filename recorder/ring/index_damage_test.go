package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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

// A damaged page in the middle of a camera's fragment entries: Open does
// not read it (start-up reads the block metas and each fragment bucket's
// ends, not every entry), and the query that meets it later fails with
// ErrCorrupt instead of killing the process. The damage is an alert that
// says what to do and one "damaged" event; recording goes on, and so do
// queries that do not touch the page. Two faults: a page header
// overwritten (bbolt's page-type assertion panics) and an element whose
// key length points far outside the page (a fault on the mapping, or an
// out-of-range slice), and an element whose position points 1.8 GB past
// the page (a read from an unmapped address: SIGSEGV, made a panic).
func TestDamagedFragmentPageMidRun(t *testing.T) {
	for _, fault := range []string{"header", "element", "offset"} {
		t.Run(fault, func(t *testing.T) {
			dir := t.TempDir()
			clk := &fakeClock{t: t0}
			o := Options{Dir: dir, Capacity: 64 << 20, BlockSize: 16 << 10, Erasures: &fakeErasures{dedup: true},
				Now: clk.Now, Mono: clk.Mono, NoSync: true, SyncInterval: time.Hour}
			r := mustOpen(t, o)
			ids := map[string]uint32{}
			for _, cam := range []string{"cam1", "cam2"} {
				ids[cam], _ = r.AppendInit(cam, initFor(cam))
			}
			app := func(cam string, from, to int) {
				t.Helper()
				for i := from; i < to; i++ {
					st := t0.Add(time.Duration(i) * time.Second)
					clk.Set(st.Add(time.Second))
					if err := r.AppendFragment(Fragment{Camera: cam, Start: st, Duration: time.Second, Keyframe: true,
						InitID: ids[cam], Payload: payloadFor(cam, i, 100)}); err != nil {
						t.Fatal(err)
					}
				}
				if err := r.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			app("cam1", 0, 2000) // ~55 leaf pages
			app("cam2", 3000, 3050)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			page := fragLeafStarting(t, filepath.Join(dir, "index.db"), 900, 1100)
			damagePage(t, filepath.Join(dir, "index.db"), page, fault)

			r, err := Open(o)
			if err != nil {
				t.Fatalf("Open read the middle of the fragment entries: %v", err)
			}
			defer r.Close()
			for range 2 {
				func() {
					defer func() {
						if x := recover(); x != nil {
							t.Fatalf("query over the damaged page panicked: %v", x)
						}
					}()
					_, err := r.Fragments("cam1", t0, t0.Add(2000*time.Second))
					if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "index.db is damaged") {
						t.Fatalf("query over the damaged page: %v", err)
					}
				}()
			}
			if refs, err := r.Fragments("cam2", t0, t0.Add(4000*time.Second)); err != nil || len(refs) != 50 {
				t.Fatalf("cam2: %d fragments, %v", len(refs), err)
			}
			app("cam1", 3100, 3110) // recording goes on
			app("cam2", 3100, 3110)
			if refs, err := r.Fragments("cam1", t0.Add(3000*time.Second), t0.Add(4000*time.Second)); err != nil || len(refs) != 10 {
				t.Fatalf("cam1 after the damage: %d fragments, %v", len(refs), err)
			}
			var alert string
			for _, a := range r.Stats().Alerts {
				if a.Kind == AlertDamaged {
					alert = a.Detail
				}
			}
			if !strings.Contains(alert, "index.db is damaged (2 operations failed") || !strings.Contains(alert, "move index.db aside") {
				t.Fatalf("alert: %q", alert)
			}
			if n := countKind(drainEvents(r), "damaged"); n != 1 {
				t.Fatalf("%d damaged events, want 1", n)
			}
		})
	}
}

// fragLeafStarting finds a leaf page of fragment entries whose first key
// starts within [from, to) seconds after t0, reading the file's pages.
func fragLeafStarting(t *testing.T, path string, from, to int) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const ps = 4096
	for p := int64(2); p*ps < int64(len(b)); p++ {
		pg := b[p*ps : (p+1)*ps]
		le := binary.LittleEndian
		if le.Uint16(pg[8:]) != 0x02 || le.Uint16(pg[10:]) == 0 { // a leaf page with elements
			continue
		}
		pos, ks, vs := le.Uint32(pg[20:]), le.Uint32(pg[24:]), le.Uint32(pg[28:])
		if ks != 16 || (vs != fragEntrySize && vs != fragEntrySizeOld) {
			continue
		}
		k := pg[16+pos : 16+pos+ks]
		if s := time.Duration(keyStart(k) - t0.UnixNano()); s >= time.Duration(from)*time.Second && s < time.Duration(to)*time.Second {
			return p
		}
	}
	t.Fatal("no fragment leaf page in range")
	return 0
}

// damagePage overwrites page's header with junk, or gives its first
// element a key length far beyond the page.
func damagePage(t *testing.T, path string, page int64, fault string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var at int64
	var junk []byte
	switch fault {
	case "header":
		at, junk = page*4096, bytes.Repeat([]byte{0xee}, 16)
	case "element":
		at, junk = page*4096+16+8, []byte{0xff, 0xff, 0xff, 0x7f} // element 0's ksize
	case "offset":
		at, junk = page*4096+16+4, []byte{0x00, 0x00, 0x00, 0x70} // element 0's pos: 1.8 GB on
	}
	if _, err := f.WriteAt(junk, at); err != nil {
		t.Fatal(err)
	}
}

// A panic in an index transaction that is not bbolt reading a damaged
// page (a bug in the ring's own code) is not taken for damage: advising
// to move index.db aside would lose the footage and fix nothing.
func TestIndexGuardLetsBugsPanic(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	for _, bug := range []func(){
		func() { var m map[string]int; m["x"] = 1 },
		func() { panic("invariant broken") },
	} {
		func() {
			defer func() {
				if x := recover(); x == nil {
					t.Fatal("the bug's panic was swallowed")
				}
			}()
			_ = r.view(func(*bolt.Tx) error { bug(); return nil })
		}()
	}
	if st := r.Stats(); len(st.Alerts) > 0 {
		for _, a := range st.Alerts {
			if strings.Contains(a.Detail, "index.db is damaged") {
				t.Fatalf("a bug raised the damage alert: %+v", a)
			}
		}
	}
	// A bounds error decoding a key in this package is damage.
	err := r.view(func(*bolt.Tx) error { _ = keyStart([]byte{1, 2}); return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short key: %v", err)
	}
}
