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

var bigLedger struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigLedger.path != "" {
		os.RemoveAll(filepath.Dir(bigLedger.path))
	}
	os.Exit(code)
}

func BenchmarkVerifyLedgerFile1M(b *testing.B) {
	const n = 1_000_000
	bigLedger.once.Do(func() {
		dir, err := os.MkdirTemp("", "mimamori-bench")
		if err != nil {
			bigLedger.err = err
			return
		}
		bigLedger.path = filepath.Join(dir, "ledger.db")
		bigLedger.err = bulkLedger(bigLedger.path, n)
	})
	if bigLedger.err != nil {
		b.Fatal(bigLedger.err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := VerifyLedgerFile(bigLedger.path, VerifyOptions{})
		if err != nil || !rep.OK || rep.Entries != n {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
