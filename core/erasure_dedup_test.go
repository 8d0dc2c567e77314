package core

import (
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// pendingBlocks is how many blocks camera's pending proof counts.
func pendingBlocks(t *testing.T, s *Store, camera string) int {
	t.Helper()
	var n int
	_ = s.db.View(func(tx *bolt.Tx) error {
		p, _ := readPending(tx.Bucket(bErasurePending), camera)
		n = p.Blocks
		return nil
	})
	return n
}

func dedupKeys(t *testing.T, s *Store) (window, recent int) {
	t.Helper()
	_ = s.db.View(func(tx *bolt.Tx) error {
		window, recent = tx.Bucket(bErasureWindow).Stats().KeyN, tx.Bucket(bErasureRecent).Stats().KeyN
		return nil
	})
	return window, recent
}

// The dedup keeps the last erasureWindow erasures, whatever the ring's
// size and however many laps: a ring of 5.3 million blocks costs it the
// same few MiB as a small one. A redo within the window counts nothing.
func TestErasureDedupStaysWithinItsWindow(t *testing.T) {
	defer func(w uint64) { erasureWindow = w }(erasureWindow)
	erasureWindow = 64
	s, clk, _ := manualStore(t)
	var batch []Erasure
	for b := range uint32(1000) {
		batch = append(batch, block("cam1", b, 7, clk.Now()))
		if len(batch) == 16 { // the ring's batches
			if err := s.RecordErasures(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.RecordErasures(batch); err != nil {
		t.Fatal(err)
	}
	if w, r := dedupKeys(t, s); w != 64 || r != 64 {
		t.Fatalf("dedup keys after 1000 erasures: window %d, lookup %d; want 64 each", w, r)
	}
	before := pendingBlocks(t, s, "cam1")
	if before != 1000 {
		t.Fatalf("pending proof counts %d blocks, want 1000", before)
	}
	// The ring redoes its last batch (a crash before it freed the blocks).
	var redo []Erasure
	for b := uint32(984); b < 1000; b++ {
		redo = append(redo, block("cam1", b, 7, clk.Now()))
	}
	if err := s.RecordErasures(redo); err != nil {
		t.Fatal(err)
	}
	if n := pendingBlocks(t, s, "cam1"); n != before {
		t.Fatalf("a redo within the window was counted: %d blocks, want %d", n, before)
	}
	// The next lap of the same blocks is new.
	if err := s.RecordErasure(block("cam1", 999, 8, clk.Now())); err != nil {
		t.Fatal(err)
	}
	if n := pendingBlocks(t, s, "cam1"); n != before+1 {
		t.Fatalf("the next generation of a block: %d blocks, want %d", n, before+1)
	}
	if w, r := dedupKeys(t, s); w != 64 || r != 64 {
		t.Fatalf("dedup keys: window %d, lookup %d; want 64 each", w, r)
	}
}

// An upgraded database keeps schema 3's per-block bucket for lookups
// until the window has filled once (a redo, right after the upgrade, of
// a proof the previous release recorded is still recognised), then it
// is deleted.
func TestLegacyDedupBucketDroppedOnceTheWindowFills(t *testing.T) {
	defer func(w uint64) { erasureWindow = w }(erasureWindow)
	erasureWindow = 10
	path := copyFixtureDB(t)
	s, err := openAt(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var legacy Erasure
	var m Entry
	for _, e := range migrateEntries(t, s) {
		if e.Details["step"] == "erasure-window" {
			m = e
		}
	}
	if n, _ := strconv.Atoi(m.Details["legacy_dedup_keys"]); n == 0 || m.Details["to"] != "4" {
		t.Fatalf("migration entry %+v", m.Details)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bErasedBlocks).Cursor().First()
		legacy = Erasure{Camera: string(v[8:]), Block: uint32(k[0])<<24 | uint32(k[1])<<16 | uint32(k[2])<<8 | uint32(k[3]),
			Generation: uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 |
				uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7]),
			From: t0, To: t0, ErasedAt: t0, Reason: "overwrite"}
		return nil
	})
	before := pendingBlocks(t, s, legacy.Camera)
	if err := s.RecordErasure(legacy); err != nil {
		t.Fatal(err)
	}
	if n := pendingBlocks(t, s, legacy.Camera); n != before {
		t.Fatalf("a redo of a proof the previous release recorded was counted again (%d blocks, was %d)", n, before)
	}
	for b := range uint32(9) {
		if err := s.RecordErasure(block("camX", 100000+b, 1, t0)); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bErasedBlocks) != nil {
			t.Error("erased_blocks still there after the window filled")
		}
		return nil
	})
	// The redo is remembered in the window now.
	if err := s.RecordErasure(legacy); err != nil {
		t.Fatal(err)
	}
	if n := pendingBlocks(t, s, legacy.Camera); n != before {
		t.Fatalf("a second redo was counted: %d blocks, was %d", n, before)
	}
}
