package boltmap

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Pages read through the mapping are resident until Release drops them;
// the data stays readable after.
func TestReleaseDropsResidentPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 512)
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range 20_000 { // ~10 MB
			k := binary.BigEndian.AppendUint32(nil, uint32(i))
			if err := b.Put(k, val); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	readAll := func() int {
		n := 0
		_ = db.View(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("b")).ForEach(func(_, v []byte) error { n += len(v); return nil })
		})
		return n
	}
	want := readAll()
	read, err := Resident(path)
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	if read < 4<<20 {
		t.Fatalf("only %d KiB resident after reading %d bytes: the test shows nothing", read>>10, want)
	}
	Release(db)
	if after, _ := Resident(path); after > read/8 {
		t.Fatalf("%d KiB resident after reading, %d KiB after Release", read>>10, after>>10)
	}
	if got := readAll(); got != want {
		t.Fatalf("read %d bytes after Release, %d before", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var mapped int64
	_ = db.View(func(tx *bolt.Tx) error { mapped = Mapped(tx); return nil })
	if mapped <= 0 || mapped > fi.Size() {
		t.Fatalf("Mapped %d for a %d-byte file", mapped, fi.Size())
	}
}
