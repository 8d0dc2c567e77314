package ring

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Earlier releases wrote 72-byte fragment entries holding a SHA-256 of the
// plaintext; new entries are 40 bytes without it (the GCM tags and the
// header check prove the bytes). An index written before keeps reading,
// and its hash is still checked.
func TestOldFragmentEntriesStillReadAndCheckTheirHash(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 6, fragSize)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Rewrite every entry in the old form: the right hash for all but the
	// fragment at 3 s, which gets a wrong one.
	db, err := bolt.Open(filepath.Join(e.dir, "index.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = db.Update(func(tx *bolt.Tx) error {
		frags := tx.Bucket(bktFrags)
		return frags.ForEachBucket(func(name []byte) error {
			b := frags.Bucket(name)
			type kv struct{ k, v []byte }
			var all []kv
			if err := b.ForEach(func(k, v []byte) error {
				if len(v) != fragEntrySize {
					t.Fatalf("a new entry is %d bytes, want %d", len(v), fragEntrySize)
				}
				all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
				return nil
			}); err != nil {
				return err
			}
			for _, x := range all {
				fe, err := decodeFragEntry(x.v)
				if err != nil {
					return err
				}
				i := int((keyStart(x.k) - t0.UnixNano()) / 1e9)
				old := make([]byte, fragEntrySizeOld)
				copy(old, x.v[:32])
				sum := sha256.Sum256(payloadFor("cam1", i, fragSize))
				if i == 3 {
					sum[0] ^= 1
				}
				copy(old[32:64], sum[:])
				copy(old[64:], x.v[32:40])
				if got, err := decodeFragEntry(old); err != nil || got.gen != fe.gen || got.block != fe.block || !got.hasSHA {
					t.Fatalf("old form decodes as %+v, %v; want %+v with its hash", got, err, fe)
				}
				if err := b.Put(x.k, old); err != nil {
					return err
				}
				n++
			}
			return nil
		})
	})
	if err != nil || n != 6 {
		t.Fatalf("rewrote %d entries: %v", n, err)
	}
	db.Close()

	r = mustOpen(t, e.tinyOpts())
	defer r.Close()
	refs, err := r.Fragments("cam1", t0, t0.Add(time.Minute))
	if err != nil || len(refs) != 6 {
		t.Fatalf("%d fragments, %v", len(refs), err)
	}
	for _, f := range refs {
		p, err := r.ReadFragment(f)
		if i := fragIndex(f); i == 3 {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("fragment 3 with a wrong hash in its old entry: %v, want ErrDamaged", err)
			}
		} else if err != nil || !bytes.Equal(p, payloadFor("cam1", i, fragSize)) {
			t.Fatalf("fragment %d from an old entry: %v", i, err)
		}
	}
}

// A read checks the whole record header against the index entry: with no
// hash in the entry, an entry whose duration, init or keyframe flag is not
// the record's is damage, not footage.
func TestReadChecksTheRecordHeaderAgainstTheEntry(t *testing.T) {
	for _, field := range []string{"duration", "init", "keyframe"} {
		e := newEnv(t)
		r := mustOpen(t, e.tinyOpts())
		id, _ := r.AppendInit("cam1", initFor("cam1"))
		appendSeq(t, r, e, "cam1", id, 0, 4, fragSize)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(filepath.Join(e.dir, "index.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			frags := tx.Bucket(bktFrags)
			return frags.ForEachBucket(func(name []byte) error {
				b := frags.Bucket(name)
				k, v := b.Cursor().First() // the fragment at 0 s
				fe, err := decodeFragEntry(v)
				if err != nil {
					return err
				}
				switch field {
				case "duration":
					fe.dur += int64(time.Millisecond)
				case "init":
					fe.initID++
				case "keyframe":
					fe.flags ^= flagKeyframe
				}
				return b.Put(bytes.Clone(k), fe.encode())
			})
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		r = mustOpen(t, e.tinyOpts())
		refs, err := r.Fragments("cam1", t0, t0.Add(time.Minute))
		if err != nil || len(refs) != 4 {
			t.Fatalf("%s: %d fragments, %v", field, len(refs), err)
		}
		for _, f := range refs {
			_, err := r.ReadFragment(f)
			if i := fragIndex(f); i == 0 && !errors.Is(err, ErrDamaged) {
				t.Fatalf("an entry with another %s than its record read as %v, want ErrDamaged", field, err)
			} else if i != 0 && err != nil {
				t.Fatalf("%s: fragment %d: %v", field, i, err)
			}
		}
		r.Close()
	}
}
