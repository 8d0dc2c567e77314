package core

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"mimamori/boltmap"
)

// A full verification reads every page of the database; those pages used
// to stay in the process's mapping, so RSS grew with the ledger (the
// soak's nightly verification: ~250 MiB of a year's database resident).
// They are released after the pass.
func TestFullVerificationLeavesTheDatabaseUnmapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mimamori.db")
	if _, err := BuildSyntheticLedger(path, SyntheticLedger{Start: t0, Days: 20, Cameras: 64, MachinePerDay: 50, PeoplePerDay: 100}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: t0.Add(30 * 24 * time.Hour)}
	s, err := Open(path, Options{Now: c.Now, Logger: quietLogger(), Policy: CityStandard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plantActors(t, s, manager)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.VerifyLedger(manager)
	if err != nil || !rep.OK || rep.Entries < 30_000 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	after := resident(t, path)
	if after > fi.Size()/8 {
		t.Fatalf("after a full verification %d KiB of the %d KiB database stay mapped", after>>10, fi.Size()>>10)
	}
	t.Logf("database %d KiB, %d entries; mapped after a full verification: %d KiB", fi.Size()>>10, rep.Entries, after>>10)
}

// resident is boltmap.Resident, skipping where /proc/self/smaps is missing.
func resident(t *testing.T, path string) int64 {
	t.Helper()
	n, err := boltmap.Resident(path)
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	return n
}
