package core

import (
	"bytes"
	"encoding/csv"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A refused caller's subject lands in the ledger bounded and without
// control characters.
func TestDeniedSubjectBounded(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	tech := Actor{Fingerprint: "SHA256:tech", Name: "Tech", Role: RoleTechnician}
	hostile := "R-1\x1b]52;c;" + strings.Repeat("A", 200_000)
	if _, err := s.Request(tech, hostile); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician read: %v", err)
	}
	e := lastEntry(t, s)
	if e.Action != ActionDenied {
		t.Fatalf("last entry %s, want denied", e.Action)
	}
	if sub := e.Details["subject"]; len(sub) > 210 || strings.ContainsRune(sub, 0x1b) {
		t.Fatalf("denied subject not bounded/cleaned: %d bytes", len(sub))
	}
}

// The CSV export is read in pages; it must still hold every entry once,
// in order, across page boundaries.
func TestLedgerCSVAcrossPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(path, Options{Now: (&clock{t: t0}).Now, Logger: quietLogger(), Policy: CityStandard()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := bulkLedger(path, 12345); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Now: (&clock{t: t0}).Now, Logger: quietLogger(), Policy: CityStandard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	if err := s.ExportLedgerCSV(manager, &out, ShowAll); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := s.LedgerHead()
	if uint64(len(rows)-1) != head {
		t.Fatalf("%d CSV rows for %d entries", len(rows)-1, head)
	}
	for i, r := range rows[1:] {
		if r[0] != strconv.Itoa(i+1) {
			t.Fatalf("row %d has seq %s", i+1, r[0])
		}
	}
}

// The console's standing chain indicator reads without writing; an
// explicit verification is ledgered.
func TestChainStatusWritesNothing(t *testing.T) {
	s, _, _ := newTestStore(t, CityStandard())
	mustCamera(t, s, "cam1")
	before := s.LedgerHead()
	rep, err := s.ChainStatus(manager)
	if err != nil || !rep.OK {
		t.Fatalf("chain status: %+v %v", rep, err)
	}
	if s.LedgerHead() != before {
		t.Fatal("ChainStatus wrote a ledger entry")
	}
	if _, err := s.VerifyLedger(manager); err != nil {
		t.Fatal(err)
	}
	if e := lastEntry(t, s); e.Action != ActionLedgerVerify {
		t.Fatalf("explicit verify not ledgered: %s", e.Action)
	}
	if _, err := s.ChainStatus(Actor{Name: "tech", Role: RoleTechnician}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician chain status: %v", err)
	}
}
