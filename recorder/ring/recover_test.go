package ring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRecoverUnindexedTail(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	id2, _ := r.AppendInit("cam2", initFor("cam2"))
	appendSeq(t, r, e, "cam1", id, 0, 10, fragSize)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	// Ten more cross into blocks taken after the last commit.
	appendSeq(t, r, e, "cam1", id, 10, 20, fragSize)
	appendSeq(t, r, e, "cam2", id2, 0, 3, fragSize)
	crash(r)

	r = mustOpen(t, e.tinyOpts())
	defer r.Close()
	if refs := verifyAll(t, r, "cam1", fragSize); len(refs) != 20 {
		t.Fatalf("cam1: %d fragments after recovery, want 20", len(refs))
	}
	if refs := verifyAll(t, r, "cam2", fragSize); len(refs) != 3 {
		t.Fatalf("cam2: %d fragments after recovery, want 3", len(refs))
	}
	// Every block left open is sealed; appending continues in a fresh one.
	if st := countStates(r); st[stateOpen] != 0 {
		t.Fatalf("block states after recovery %v: none should be open", st)
	}
	appendSeq(t, r, e, "cam1", id, 20, 25, fragSize)
	r.Sync()
	if refs := verifyAll(t, r, "cam1", fragSize); len(refs) != 25 {
		t.Fatalf("cam1: %d fragments, want 25", len(refs))
	}
}

func TestRecoverDropsDamagedTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(rec []byte)
	}{
		{"torn", func(rec []byte) { clear(rec[len(rec)/2:]) }},                    // only half reached the disk
		{"crc", func(rec []byte) { rec[hdrV2+100] ^= 0x01 }},                      // one payload bit flipped
		{"header", func(rec []byte) { clear(rec[hdrV2-10 : hdrV2]); rec[8] = 9 }}, // header torn
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := mustOpen(t, e.tinyOpts())
			id, _ := r.AppendInit("cam1", initFor("cam1"))
			appendSeq(t, r, e, "cam1", id, 0, 3, fragSize)
			r.Sync()
			appendSeq(t, r, e, "cam1", id, 3, 5, fragSize)
			r.mu.Lock()
			b := uint32(r.cams["cam1"].open)
			used := int64(r.blocks[b].used)
			r.mu.Unlock()
			crash(r)

			last := int64(b)*r.bs + used - recordSize(recV2, fragSize)
			f, err := os.OpenFile(filepath.Join(e.dir, "ring.dat"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			rec := make([]byte, recordSize(recV2, fragSize))
			f.ReadAt(rec, last)
			tc.damage(rec)
			f.WriteAt(rec, last)
			f.Close()

			r = mustOpen(t, e.tinyOpts())
			defer r.Close()
			refs := verifyAll(t, r, "cam1", fragSize)
			if len(refs) != 4 || fragIndex(refs[3]) != 3 {
				t.Fatalf("%d fragments after recovery, want #0..#3", len(refs))
			}
			if st := countStates(r); st[stateOpen] != 0 {
				t.Fatalf("block with the damaged tail still open: %v", st)
			}
			appendSeq(t, r, e, "cam1", id, 4, 6, fragSize)
			r.Sync()
			if refs := verifyAll(t, r, "cam1", fragSize); len(refs) != 6 {
				t.Fatalf("%d fragments after re-append, want 6", len(refs))
			}
		})
	}
}

func TestRecoverRejectsPreviousLap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		genDiff uint64
		want    int
	}{
		{"previous-generation", 1, 3}, // valid CRC, old lap: rejected
		{"current-generation", 0, 4},  // control: the same record is accepted
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := mustOpen(t, e.tinyOpts())
			id, _ := r.AppendInit("cam1", initFor("cam1"))
			appendSeq(t, r, e, "cam1", id, 0, 3, fragSize)
			r.Sync()
			r.mu.Lock()
			c := r.cams["cam1"]
			b := uint32(c.open)
			m := r.blocks[b]
			h := recHeader{Kind: kindFragment, Camera: c.num, Gen: m.gen - tc.genDiff, Seq: c.nextSeq,
				Start: t0.Add(3 * time.Second).UnixNano(), Dur: int64(time.Second), InitID: id, Nonce: 77}
			r.mu.Unlock()
			// Sealed with the block's current key: only the generation in
			// the header differs.
			rec := sealRecord(t, r.aeadFor(b, m.gen), h, payloadFor("cam1", 3, fragSize))
			crash(r)
			if _, _, _, err := checkRecord(bytes.Clone(rec)); err != nil {
				t.Fatalf("planted record does not check: %v", err)
			}
			f, _ := os.OpenFile(filepath.Join(e.dir, "ring.dat"), os.O_RDWR, 0)
			f.WriteAt(rec, int64(b)*int64(64<<10)+int64(m.used))
			f.Close()

			r = mustOpen(t, e.tinyOpts())
			defer r.Close()
			if refs := verifyAll(t, r, "cam1", fragSize); len(refs) != tc.want {
				t.Fatalf("%d fragments, want %d", len(refs), tc.want)
			}
		})
	}
}

func TestErasureRetriedAndRedoneAfterCrash(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 30, fragSize)
	r.Sync()

	// Ledger down: footage is erased and unindexed, but the blocks wait in
	// "erasing" until the proof is recorded.
	e.er.setFail(errLedgerDown)
	if err := sweepAt(r, e, t0.Add(75*time.Second)); err == nil {
		t.Fatal("sweep with the ledger down reported no error")
	}
	if refs, _ := r.Fragments("cam1", t0, t0.Add(time.Hour)); len(refs) != 18 {
		t.Fatalf("%d fragments indexed, want 18", len(refs))
	}
	for b := range uint32(2) {
		if _, ok := r.keys.keyFor(b, r.blocks[b].gen); ok {
			t.Fatalf("block %d's key still there while its erasure is pending", b)
		}
	}
	// Retried by the next sweep.
	e.er.setFail(nil)
	if err := sweepAt(r, e, t0.Add(76*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.er.list()); n != 2 {
		t.Fatalf("%d erasures after retry, want 2", n)
	}

	// Crash with an erasure pending: Open finishes it.
	e.er.setFail(errLedgerDown)
	sweepAt(r, e, t0.Add(95*time.Second)) // cutoff 35 s: the three remaining blocks
	crash(r)
	e.er.setFail(nil)
	r = mustOpen(t, o)
	if n := len(e.er.list()); n != 5 {
		t.Fatalf("%d erasures after recovery, want 5", n)
	}
	checkErasuresUnique(t, e.er.list())
	if st := r.Stats(); st.FreeBlocks != 16 {
		t.Fatalf("free blocks %d after redo, want 16", st.FreeBlocks)
	}
	r.Close()
}

func TestErasureRecordedThenCrashIsDeduplicated(t *testing.T) {
	e := newEnv(t)
	e.er.dedup = true
	o := e.tinyOpts()
	o.Retention = time.Minute
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 12, fragSize)
	r.Sync()
	// The ledger keeps the entry but the ring never hears back: it redoes.
	e.er.mu.Lock()
	e.er.fail, e.er.failAfter = errLedgerDown, true
	e.er.mu.Unlock()
	sweepAt(r, e, t0.Add(time.Hour))
	crash(r)
	e.er.setFail(nil)
	r = mustOpen(t, o)
	defer r.Close()
	ers := e.er.list()
	checkErasuresUnique(t, ers)
	if len(ers) != 2 || e.er.offered < 4 {
		t.Fatalf("%d ledger entries from %d proofs offered, want 2 entries and a redo", len(ers), e.er.offered)
	}
}

// Power loss keeps any subset of the unsynced page-cache writes. Simulated
// by rewriting ring.dat after the crash: (a) every unsynced write lost,
// (b) cam1's first unsynced record (#10) lost but the ones after it kept:
// #11 sits behind the hole in the same block and is dropped; #12..#19 are
// in blocks taken after the last commit, whose records are intact, and
// are recovered.
func TestPowerLossKeepsIndexEqualToRing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wantCam1 int
	}{{"all-unsynced-lost", 10}, {"hole-then-survivors", 18}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := mustOpen(t, e.tinyOpts())
			id1, _ := r.AppendInit("cam1", initFor("cam1"))
			id2, _ := r.AppendInit("cam2", initFor("cam2"))
			appendSeq(t, r, e, "cam1", id1, 0, 10, fragSize)
			appendSeq(t, r, e, "cam2", id2, 0, 10, fragSize)
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(e.dir, "ring.dat")
			synced, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			appendSeq(t, r, e, "cam1", id1, 10, 20, fragSize)
			appendSeq(t, r, e, "cam2", id2, 10, 20, fragSize)
			r.mu.Lock()
			var hole pendingEntry
			for _, p := range r.pending {
				if p.cam == r.cams["cam1"].num {
					hole = p
					break
				}
			}
			r.mu.Unlock()
			crash(r)

			after, _ := os.ReadFile(path)
			img := synced
			if tc.name == "hole-then-survivors" {
				img = after
				fe, _ := decodeFragEntry(hole.val)
				at := int64(fe.block)*r.bs + fe.offset
				copy(img[at:at+recordSize(recV2, fragSize)], synced[at:])
			}
			if err := os.WriteFile(path, img, 0o600); err != nil {
				t.Fatal(err)
			}
			r = mustOpen(t, e.tinyOpts())
			defer r.Close()
			for _, f := range verifyAll(t, r, "cam1", fragSize) {
				if i := fragIndex(f); i == 10 || i == 11 {
					t.Fatalf("cam1 #%d recovered from behind a hole", i)
				}
			}
			if refs := verifyAll(t, r, "cam1", fragSize); len(refs) != tc.wantCam1 {
				t.Fatalf("cam1: %d fragments, want %d", len(refs), tc.wantCam1)
			}
			refs := verifyAll(t, r, "cam2", fragSize)
			if len(refs) < 10 {
				t.Fatalf("cam2: %d fragments, synced ones lost", len(refs))
			}
			appendSeq(t, r, e, "cam1", id1, 20, 30, fragSize)
			r.Sync()
			verifyAll(t, r, "cam1", fragSize)
		})
	}
}
