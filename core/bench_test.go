package core

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Benchmarks run with bbolt's default fsync on every commit.

func benchMutations(b *testing.B, writers int) {
	s, _, _ := newTestStore(b, CityStandard())
	s.now = time.Now
	b.ReportAllocs()
	b.ResetTimer()
	c0 := s.commits.Load()
	start := time.Now()
	var wg sync.WaitGroup
	per := (b.N + writers - 1) / writers
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			a := Actor{Fingerprint: fmt.Sprintf("SHA256:w%d", w), Name: "writer", Role: RoleOperator}
			for i := 0; i < per; i++ {
				if err := s.RecordSession(a, ActionLogin, "10.0.0.1:22", nil); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(per*writers)/el.Seconds(), "entries/s")
	b.ReportMetric(float64(per*writers)/float64(s.commits.Load()-c0), "entries/commit")
	if rep := verifyStore(b, s); !rep.OK || rep.Entries != uint64(per*writers) {
		b.Fatalf("ledger after benchmark: %+v", rep)
	}
}

func verifyStore(b testing.TB, s *Store) VerifyReport {
	rep, err := verifyAll(s.db, newChainVerifier(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return rep
}

func BenchmarkMutation1Writer(b *testing.B)  { benchMutations(b, 1) }
func BenchmarkMutation8Writers(b *testing.B) { benchMutations(b, 8) }

// bulkLedger writes n entries in large transactions (test helper: the
// product only appends through mutate).
func bulkLedger(path string, n int) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := Actor{Fingerprint: "SHA256:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy", Name: "Operator Suzuki", Role: RoleOperator}
	const chunk = 50000
	for done := 0; done < n; done += chunk {
		err := db.Update(func(tx *bolt.Tx) error {
			for i := done; i < done+chunk && i < n; i++ {
				det := map[string]string{"remote": "10.0.0.1:22", "role": "operator"}
				if _, err := appendEntryAt(tx, at.Add(time.Duration(i)*time.Second), a, ActionLogin, a.Fingerprint, det); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return db.Sync()
}

// yearLedger is a year of this release's steady state at 64 cameras
// (64 × 24 erasure proofs, 200 other machine entries and 100 people's acts
// a day: 670,140 entries), built once per test binary.
var yearLedger struct {
	once    sync.Once
	dir     string
	path    string
	entries uint64
	err     error
}

var yearShape = SyntheticLedger{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 365, Cameras: 64, MachinePerDay: 200, PeoplePerDay: 100}

func buildYear(b *testing.B) string {
	yearLedger.once.Do(func() {
		yearLedger.dir, yearLedger.err = os.MkdirTemp("", "mimamori-bench")
		if yearLedger.err != nil {
			return
		}
		yearLedger.path = filepath.Join(yearLedger.dir, "year.db")
		yearLedger.entries, yearLedger.err = BuildSyntheticLedger(yearLedger.path, yearShape)
	})
	if yearLedger.err != nil {
		b.Fatal(yearLedger.err)
	}
	return yearLedger.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if yearLedger.dir != "" {
		os.RemoveAll(yearLedger.dir)
	}
	os.Exit(code)
}

// BenchmarkVerifyLedgerFileYear: `mimamori ledger verify` on a year's
// ledger (issue 9: ≤ 5 s).
func BenchmarkVerifyLedgerFileYear(b *testing.B) {
	path := buildYear(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := VerifyLedgerFile(path, VerifyOptions{})
		if err != nil || !rep.OK || rep.Entries != yearLedger.entries {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(yearLedger.entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	if st, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "MiB-db")
	}
}

// openYear opens a copy of the year's ledger, its first verification done.
func openYear(b *testing.B) *Store {
	src := buildYear(b)
	raw, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "mimamori.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	s, err := Open(path, Options{Logger: quietLogger(), ManualTick: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	s.bg.Wait()
	return s
}

// BenchmarkStandingCheckYear: the console's standing check on a year's
// ledger with one entry added since the last check (issue 9: ≤ 10 ms
// regardless of size).
func BenchmarkStandingCheckYear(b *testing.B) {
	s := openYear(b)
	if rep, err := s.ChainStatus(manager); err != nil || !rep.OK {
		b.Fatalf("%+v %v", rep, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := s.RecordSession(operator, ActionLogin, "10.0.0.1:22", nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if rep, err := s.ChainStatus(manager); err != nil || !rep.OK {
			b.Fatalf("%+v %v", rep, err)
		}
	}
}

// BenchmarkLedgerPageYear: the console's ledger tab reading its newest
// page of people's acts from a year's ledger.
func BenchmarkLedgerPageYear(b *testing.B) {
	s := openYear(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := s.LedgerPage(manager, LedgerQuery{Limit: 200})
		if err != nil || len(p.Entries) != 200 {
			b.Fatalf("%d %v", len(p.Entries), err)
		}
	}
}
