package core

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestLedgerChainAndRead(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	if err := s.RecordSession(operator, ActionLogin, "10.0.0.2:5555", map[string]string{"term": "xterm"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSession(operator2, ActionLogin, "10.0.0.3:5555", nil); err != nil {
		t.Fatal(err)
	}
	all, err := s.Ledger(manager, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("want 3 entries, got %d", len(all))
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if i > 0 && e.PrevHash != all[i-1].Hash {
			t.Fatalf("entry %d not linked", e.Seq)
		}
		if e.Time.Location() != time.UTC {
			t.Fatalf("entry time not UTC")
		}
	}
	if all[1].Details["term"] != "xterm" || all[1].Details["remote"] != "10.0.0.2:5555" || all[1].Action != ActionLogin {
		t.Fatalf("details lost: %+v", all[1])
	}
	own, err := s.Ledger(operator, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 1 || own[0].Actor.Fingerprint != operator.Fingerprint {
		t.Fatalf("operator sees %+v", own)
	}
	since, _ := s.Ledger(manager, 3, 10)
	if len(since) != 1 || since[0].Seq != 3 {
		t.Fatalf("since 3: %+v", since)
	}
	// Technician: refused, and the refusal is itself ledgered.
	if _, err := s.Ledger(technician, 0, 0); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician ledger read: %v", err)
	}
	d := lastEntry(t, s)
	if d.Action != ActionDenied || d.Subject != string(ActionLedgerRead) || d.Actor != technician {
		t.Fatalf("denied entry: %+v", d)
	}
	rep, err := s.VerifyLedger(manager)
	if err != nil || !rep.OK || rep.Entries != 4 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestLedgerFailureRollsBackChange(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	head := s.LedgerHead()
	s.failAppend = func() error { return errLedgerInjected }
	if _, err := s.AddCamera(manager, Camera{ID: "cam2", URL: "rtsp://h/2"}); !errors.Is(err, errLedgerInjected) {
		t.Fatalf("want injected error, got %v", err)
	}
	s.failAppend = nil
	if _, err := s.Camera(manager, "cam2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("camera landed without its ledger entry: %v", err)
	}
	if got := s.LedgerHead(); got != head {
		t.Fatalf("ledger head moved %d -> %d", head, got)
	}

	// Multi-entry change: fail the second append (the provisional hold).
	n := 0
	s.failAppend = func() error {
		n++
		if n == 2 {
			return errLedgerInjected
		}
		return nil
	}
	if _, err := s.RegisterRequest(operator, requestInput()); !errors.Is(err, errLedgerInjected) {
		t.Fatalf("want injected error, got %v", err)
	}
	s.failAppend = nil
	if rs, _ := s.Requests(manager); len(rs) != 0 {
		t.Fatalf("request landed: %+v", rs)
	}
	if hs, _ := s.Holds(manager); len(hs) != 0 {
		t.Fatalf("hold landed: %+v", hs)
	}
	if len(s.ActiveHolds(t0)) != 0 {
		t.Fatal("active hold snapshot changed")
	}
	if got := s.LedgerHead(); got != head {
		t.Fatalf("ledger head moved %d -> %d", head, got)
	}
	r, err := s.RegisterRequest(operator, requestInput())
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "R-2026-0001" {
		t.Fatalf("id counter advanced by the rolled-back attempt: %s", r.ID)
	}
	if rep, _ := s.VerifyLedger(manager); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
}

// buildLedgerFile makes a closed database with n ledger entries.
func buildLedgerFile(t *testing.T, n int) string {
	s, _, path := newTestStore(t, CityStandard())
	for i := 0; i < n; i++ {
		if err := s.RecordSession(operator, ActionLogin, "10.0.0.1:22", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func tamper(t *testing.T, path string, fn func(b *bolt.Bucket, meta *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(bLedger), tx.Bucket(bMeta)) }); err != nil {
		t.Fatal(err)
	}
}

func cp(b []byte) []byte { return append([]byte(nil), b...) }

func TestVerifyLedgerFileDetectsTampering(t *testing.T) {
	const n = 10
	// resign recomputes an entry's own hash after editing it, like a
	// careful attacker would.
	resign := func(v []byte) []byte {
		sum := sha256.Sum256(v[:len(v)-hashLen])
		copy(v[len(v)-hashLen:], sum[:])
		return v
	}
	cases := []struct {
		name   string
		broken uint64
		fn     func(b, meta *bolt.Bucket) error
	}{
		{"edited entry", 3, func(b, _ *bolt.Bucket) error {
			v := cp(b.Get(be64(3)))
			i := strings.Index(string(v), "10.0.0.1")
			v[i+7] = '9' // address 10.0.0.9
			return b.Put(be64(3), v)
		}},
		{"edited and re-hashed entry", 3, func(b, _ *bolt.Bucket) error {
			v := cp(b.Get(be64(3)))
			i := strings.Index(string(v), "10.0.0.1")
			v[i+7] = '9'
			return b.Put(be64(3), resign(v))
		}},
		{"deleted middle entry", 5, func(b, _ *bolt.Bucket) error { return b.Delete(be64(5)) }},
		{"deleted last entry", n, func(b, _ *bolt.Bucket) error { return b.Delete(be64(n)) }},
		{"deleted last entry and head seq rewound", n - 1, func(b, meta *bolt.Bucket) error {
			// The head's hash still names entry n, so entry n-1 is the
			// last one that does not fit.
			h := cp(meta.Get(kLedgerHead))
			copy(h[:8], be64(n-1))
			if err := meta.Put(kLedgerHead, h); err != nil {
				return err
			}
			return b.Delete(be64(n))
		}},
		{"reordered entries", 6, func(b, _ *bolt.Bucket) error {
			v6, v7 := cp(b.Get(be64(6))), cp(b.Get(be64(7)))
			if err := b.Put(be64(6), v7); err != nil {
				return err
			}
			return b.Put(be64(7), v6)
		}},
		{"inserted entry (well-formed)", 6, func(b, _ *bolt.Bucket) error {
			// Shift 6..n up by one and put a correctly chained forgery at 6.
			for i := uint64(n); i >= 6; i-- {
				if err := b.Put(be64(i+1), cp(b.Get(be64(i)))); err != nil {
					return err
				}
			}
			prev := b.Get(be64(5))
			forged := encodeEntry(nil, 6, t0, prev[len(prev)-hashLen:], manager, ActionLogin, "x", nil)
			sum := sha256.Sum256(forged)
			return b.Put(be64(6), append(forged, sum[:]...))
		}},
		{"inserted entry (copy)", 4, func(b, _ *bolt.Bucket) error {
			for i := uint64(n); i >= 4; i-- {
				if err := b.Put(be64(i+1), cp(b.Get(be64(i)))); err != nil {
					return err
				}
			}
			return b.Put(be64(4), cp(b.Get(be64(2))))
		}},
		{"appended entry", n + 1, func(b, _ *bolt.Bucket) error {
			prev := b.Get(be64(n))
			forged := encodeEntry(nil, n+1, t0, prev[len(prev)-hashLen:], manager, ActionLogin, "x", nil)
			sum := sha256.Sum256(forged)
			return b.Put(be64(n+1), append(forged, sum[:]...))
		}},
		{"truncated value", 2, func(b, _ *bolt.Bucket) error { return b.Put(be64(2), []byte{1, 2, 3}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := buildLedgerFile(t, n)
			if rep, err := VerifyLedgerFile(path, VerifyOptions{}); err != nil || !rep.OK || rep.Entries != n {
				t.Fatalf("intact ledger: %+v %v", rep, err)
			}
			tamper(t, path, tc.fn)
			rep, err := VerifyLedgerFile(path, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			if rep.BrokenSeq != tc.broken {
				t.Fatalf("broken seq %d, want %d (%s)", rep.BrokenSeq, tc.broken, rep.Problem)
			}
			if rep.Problem == "" {
				t.Fatal("no problem text")
			}
		})
	}
}

func TestVerifyLedgerFileMissingAndBusy(t *testing.T) {
	if _, err := VerifyLedgerFile("/nonexistent/mimamori.db", VerifyOptions{}); err == nil {
		t.Fatal("want error for missing file")
	}
	s, _, path := newTestStore(t, CityStandard())
	_ = s
	if _, err := VerifyLedgerFile(path, VerifyOptions{}); err == nil {
		t.Fatal("want error while the store holds the file")
	}
}

func TestDecodeEntryNeverPanics(t *testing.T) {
	good := encodeEntry(nil, 1, t0, make([]byte, 32), manager, ActionLogin, "s", map[string]string{"a": "b"})
	sum := sha256.Sum256(good)
	good = append(good, sum[:]...)
	if _, err := decodeEntry(good); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(good); i++ {
		decodeEntry(good[:i])
		bad := cp(good)
		bad[i] ^= 0xff
		decodeEntry(bad)
	}
}
