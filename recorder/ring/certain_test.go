package ring

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// patternPayload is n bytes of a recognisable pattern unique to this run.
func patternPayload(t testing.TB, n int) (payload, probe []byte) {
	t.Helper()
	probe = make([]byte, 32)
	copy(probe, "MIMAMORI-ERASE-")
	if _, err := rand.Read(probe[15:]); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(probe, n/32+1)[:n], probe
}

// certainRig is the ring with the real core (mimamori.db) in one data
// directory, as the appliance has it.
func certainRig(t *testing.T, retention time.Duration) (*env, *core.Store, Options) {
	t.Helper()
	e := newEnv(t)
	st, err := core.Open(filepath.Join(e.dir, "mimamori.db"), core.Options{Now: e.clock.Now, Policy: core.CityStandard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.SyncCameras(core.SystemActor("config"), []core.Camera{
		{ID: "cam1", Number: "1", Name: "gate", URL: "rtsp://127.0.0.1/cam1"},
		{ID: "cam2", Number: "2", Name: "yard", URL: "rtsp://127.0.0.1/cam2"}}); err != nil {
		t.Fatal(err)
	}
	o := e.tinyOpts()
	o.Retention = retention
	o.Erasures, o.Holds, o.Events = st, st, st
	return e, st, o
}

// erasedBlocks counts the blocks the ledger's erasure proofs record for
// reason (core coalesces proofs per camera; pending ones are flushed
// first).
func erasedBlocks(t *testing.T, st *core.Store, reason string) int {
	t.Helper()
	if err := st.FlushErasureProofs(""); err != nil {
		t.Fatal(err)
	}
	mgr := core.Actor{Fingerprint: "SHA256:mgr", Name: "管理", Role: core.RoleManager}
	entries, err := st.Ledger(mgr, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range entries {
		if en.Action != core.ActionErasure {
			continue
		}
		v := en.Details["blocks_"+reason]
		if en.Details["reason"] == reason {
			v = en.Details["blocks"]
		}
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}

// The erasure-is-certain test: footage with a known pattern is recorded,
// expires (retention) or is overwritten (the ring wraps), and afterwards
// no byte of the data directory — ring.dat, index.db, keys.dat,
// mimamori.db, anything — holds the pattern or a key that decrypts what is
// left of it. Before erasure the scan does find the keys, so it can fail.
func TestErasureIsCertain(t *testing.T) {
	for _, reason := range []string{"retention", "overwrite"} {
		t.Run(reason, func(t *testing.T) {
			retention := time.Hour
			if reason == "overwrite" {
				retention = 0
			}
			e, st, o := certainRig(t, retention)
			r := mustOpen(t, o)
			defer r.Close()
			id, _ := r.AppendInit("cam1", initFor("cam1"))
			payload, probe := patternPayload(t, fragSize)
			for i := range 12 { // two blocks
				e.clock.Set(t0.Add(time.Duration(i+1) * time.Second))
				if err := r.AppendFragment(Fragment{Camera: "cam1", Start: t0.Add(time.Duration(i) * time.Second),
					Duration: time.Second, Keyframe: true, InitID: id, Payload: payload}); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
			refs := verifyPattern(t, r, "cam1", payload, 12)
			var keys [][keySize]byte
			var where []int64 // a record of each block, to prove the ciphertext stays
			for _, b := range []uint32{refs[0].Block, refs[11].Block} {
				keys = append(keys, blockKey(t, r, b))
				where = append(where, int64(b)*r.bs)
			}
			for _, k := range keys {
				if findInDir(t, e.dir, k[:]) == "" {
					t.Fatal("the scan does not find a live key: it could not see one survive either")
				}
			}
			if at := findInDir(t, e.dir, probe); at != "" {
				t.Fatalf("plaintext footage on disk at %s", at)
			}

			if reason == "retention" {
				e.clock.Advance(2 * time.Hour)
				if err := r.Sweep(); err != nil { // seals the idle open block
					t.Fatal(err)
				}
				if err := r.Sweep(); err != nil {
					t.Fatal(err)
				}
			} else {
				e.clock.Advance(time.Minute)
				if err := r.Sweep(); err != nil { // seals cam1's idle open block
					t.Fatal(err)
				}
				id2, _ := r.AppendInit("cam2", initFor("cam2"))
				appendSeq(t, r, e, "cam2", id2, 100, 100+6*16, fragSize) // a full lap
				if err := r.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			if n := countFrags(t, r, "cam1", t0, t0.Add(time.Hour)); n != 0 {
				t.Fatalf("%d fragments of cam1 still indexed", n)
			}
			if _, err := r.ReadFragment(refs[0]); !errors.Is(err, ErrStale) {
				t.Fatalf("reading erased footage: %v, want ErrStale", err)
			}
			if n := erasedBlocks(t, st, reason); n < 2 {
				t.Fatalf("%d blocks erased for %s in the ledger, want 2 or more", n, reason)
			}
			if reason == "retention" {
				// Nothing overwrote the blocks: their ciphertext is still in
				// ring.dat, and it is the key's destruction that erased it.
				for i, off := range where {
					hdr := make([]byte, hdrV2)
					if err := r.readAt(hdr, off); err != nil {
						t.Fatal(err)
					}
					if h, err := decodeHeader(hdr); err != nil || h.Camera != 1 {
						t.Fatalf("block %d: the old ciphertext is gone (%v): this run did not test crypto-erase", i, err)
					}
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			checkKeysGone(t, e.dir, keys...)
			if at := findInDir(t, e.dir, probe); at != "" {
				t.Fatalf("plaintext footage on disk at %s", at)
			}
		})
	}
}

func verifyPattern(t *testing.T, r *Ring, cam string, payload []byte, want int) []FragmentRef {
	t.Helper()
	refs, err := r.Fragments(cam, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != want {
		t.Fatalf("%d fragments, want %d", len(refs), want)
	}
	for _, ref := range refs {
		got, err := r.ReadFragment(ref)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("fragment at %s: %v", ref.Start, err)
		}
	}
	return refs
}

// A ring written by the previous release (plaintext version-1 records,
// block metas without ring time, no keys.dat) opens, reads back, and its
// plaintext blocks are erased by zeroing: afterwards the pattern is
// nowhere in the data directory.
func TestPlaintextRingOfPreviousReleaseErasedCertainly(t *testing.T) {
	e, st, o := certainRig(t, time.Hour)
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	payload, probe := patternPayload(t, fragSize)
	plantPlaintextBlock(t, r, "cam1", id, 3, payload, 6)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.dir, "keys.dat")); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, o)
	defer r.Close()
	verifyPattern(t, r, "cam1", payload, 6)
	if findInDir(t, e.dir, probe) == "" {
		t.Fatal("the planted plaintext is not on disk: the scan below proves nothing")
	}
	e.clock.Advance(2 * time.Hour)
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n := countFrags(t, r, "cam1", t0, t0.Add(time.Hour)); n != 0 {
		t.Fatalf("%d fragments of the plaintext block still indexed", n)
	}
	if n := erasedBlocks(t, st, "retention"); n < 1 {
		t.Fatalf("%d retention erasures, want the plaintext block's", n)
	}
	r.Close()
	st.Close()
	if at := findInDir(t, e.dir, probe); at != "" {
		t.Fatalf("plaintext of an erased block survives at %s", at)
	}
}

// plantPlaintextBlock writes n version-1 records of payload into free block
// b and indexes them the way the previous release did (block meta without
// ring time), one second apart from t0.
func plantPlaintextBlock(t *testing.T, r *Ring, cam string, initID uint32, b uint32, payload []byte, n int) {
	t.Helper()
	c, _ := r.lookupCamera(cam)
	r.mu.Lock()
	m := r.blocks[b]
	r.mu.Unlock()
	m.state, m.camera, m.plain = stateSealed, c.num, true
	var used int64
	var entries [][2][]byte
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Second).UnixNano()
		rec := encodeV1(recHeader{Kind: kindFragment, Flags: flagKeyframe, Camera: c.num, Gen: m.gen,
			Seq: uint64(1000 + i), Start: start, Dur: int64(time.Second), InitID: initID}, payload)
		if _, err := r.f.WriteAt(rec, int64(b)*r.bs+used); err != nil {
			t.Fatal(err)
		}
		e := fragEntry{block: b, offset: used, length: uint32(len(payload)), dur: int64(time.Second),
			flags: flagKeyframe, initID: initID, sha: sha256.Sum256(payload), gen: m.gen}
		entries = append(entries, [2][]byte{timeKey(start, uint64(1000+i)), e.encode()})
		used += int64(len(rec))
		if i == 0 {
			m.first = start
		}
		m.last = start + int64(time.Second)
	}
	m.used = uint32(used)
	m.init0 = initID
	enc := m.encode([]uint32{initID})
	legacy := enc[:44+4] // the previous release's layout
	err := r.db.Update(func(tx *bolt.Tx) error {
		for _, kv := range entries {
			if err := tx.Bucket(bktFrags).Bucket(u32key(c.num)).Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return tx.Bucket(bktBlocks).Put(u32key(b), legacy)
	})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.setMetaLocked(b, m)
	r.mu.Unlock()
	if err := r.fdatasync(); err != nil {
		t.Fatal(err)
	}
}
