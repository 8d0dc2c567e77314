package core

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mappedRSS is the resident size of the process's mappings of path
// (/proc/self/smaps).
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var rss int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			rss += kb << 10
		}
	}
	return rss
}

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
	after := mappedRSS(t, path)
	if after > fi.Size()/8 {
		t.Fatalf("after a full verification %d KiB of the %d KiB database stay mapped", after>>10, fi.Size()>>10)
	}
	t.Logf("database %d KiB, %d entries; mapped after a full verification: %d KiB", fi.Size()>>10, rep.Entries, after>>10)
}
