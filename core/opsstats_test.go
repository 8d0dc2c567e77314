package core

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LedgerStanding, the metrics' one bit, follows the standing check: known
// once the first pass has run, false as soon as a new entry is edited,
// and it writes nothing.
func TestLedgerStandingFollowsTheStandingCheck(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	addEntries(t, s, 10)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, known := s.LedgerStanding()
		if known {
			if !ok {
				t.Fatal("an intact ledger reported broken")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("standing check never finished its first pass")
		}
		time.Sleep(10 * time.Millisecond)
	}
	head := s.LedgerHead()
	addEntries(t, s, 3)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bLedger)
		v := cp(b.Get(be64(head + 2)))
		v[len(v)-40] ^= 1 // a byte of the entry, not its hash
		return b.Put(be64(head+2), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := s.LedgerHead()
	if ok, known := s.LedgerStanding(); ok || !known {
		t.Fatalf("edited entry: ok=%v known=%v", ok, known)
	}
	if s.LedgerHead() != before {
		t.Fatal("LedgerStanding wrote an entry")
	}
}
