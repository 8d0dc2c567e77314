package core

import (
	"context"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fillLedger appends n entries shaped like a busy appliance's (erasure
// proofs and recording events with a few details), in big transactions.
func fillLedger(b *testing.B, s *Store, n int) {
	b.Helper()
	sys := SystemActor("recorder")
	for done := 0; done < n; {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := 0; i < 10000 && done < n; i, done = i+1, done+1 {
				det := map[string]string{"camera": "cam" + strconv.Itoa(done%64+1), "from": "2026-04-01T09:00:00Z",
					"to": "2026-04-01T10:00:00Z", "blocks": "12", "bytes": "50331648", "reason": "retention"}
				if _, err := s.appendEntry(tx, sys, ActionErasure, "cam"+strconv.Itoa(done%64+1), det); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBackup takes a backup of a database holding a year-like ledger
// (200,000 entries) while a writer commits ledger entries as fast as it
// can, and reports the snapshot size, how long the read transaction was
// held, the throughput to the client, and the writer's worst and median
// commit while the backup ran, next to the same writer's for 300 ms with
// no backup. Run with -benchtime 3x.
func BenchmarkBackup(b *testing.B) {
	s, clk, _ := newTestStore(b, CityStandard())
	fillLedger(b, s, 200_000)
	ctx := context.Background()

	stop := make(chan struct{})
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// The store's clock moves on a key's change interval per
			// write, so the per-key change rate never refuses the writer.
			clk.Advance(changeEvery)
			t0 := time.Now()
			if _, err := s.RegisterInquiry(operator, InquiryInput{From: "resident " + strconv.Itoa(i), Summary: "noise"}); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		}
	}()

	// Baseline: the same writer for a moment with no backup running.
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	base := slices.Clone(lat)
	mu.Unlock()
	slices.Sort(base)

	var rep BackupReport
	b.ResetTimer()
	for b.Loop() {
		mu.Lock()
		lat = lat[:0]
		mu.Unlock()
		var err error
		if rep, err = s.Backup(ctx, manager, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(rep.Bytes)/(1<<20), "MiB/backup")
	b.ReportMetric(float64(rep.Held.Milliseconds()), "ms-txn-held")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "ms-writer-max")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-writer-p50")
		b.ReportMetric(float64(len(lat)), "writes-during-last")
	}
	if len(base) > 0 {
		b.ReportMetric(float64(base[len(base)-1].Microseconds())/1000, "ms-writer-max-nobackup")
		b.ReportMetric(float64(base[len(base)/2].Microseconds())/1000, "ms-writer-p50-nobackup")
	}
	b.ReportMetric(float64(rep.Bytes)/float64(rep.LedgerSeq), "bytes/entry")
}
