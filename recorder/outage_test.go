package recorder

import (
	"context"
	"testing"
	"time"
)

// TestOutageGapInCoverage: a camera away for a few seconds shows as a gap
// in Coverage (what `recordings` lists) no longer than the outage + 2 s,
// while its neighbour's coverage stays one span. (The 10 s outage with
// both codecs is recorder/ingest's TestRecordingResumesAfterOutage.)
func TestOutageGapInCoverage(t *testing.T) {
	const outage = 3 * time.Second
	srv := startSimcam(t, 2, 1_000_000)
	rec, err := New(Options{
		DataDir: t.TempDir(), Capacity: 64 << 20, BlockSize: 1 << 20, Retention: 24 * time.Hour,
		SyncInterval: 200 * time.Millisecond,
		Cameras:      []Camera{{ID: "cam1", URL: srv.URL(1)}, {ID: "cam2", URL: srv.URL(2)}},
		Ledger:       &memLedger{},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); rec.Run(ctx) }()
	stats := func(cam string) (connected bool, frames uint64) {
		for _, c := range rec.Stats().Cameras {
			if c.Camera == cam {
				return c.Connected, c.FramesReceived
			}
		}
		return false, 0
	}
	waitUntil(t, 20*time.Second, "cam1 recording", func() bool { _, f := stats("cam1"); return f > 25 })
	srv.SetOffline(1, true)
	down := time.Now()
	waitUntil(t, 10*time.Second, "cam1 down", func() bool { c, _ := stats("cam1"); return !c })
	time.Sleep(outage - time.Since(down))
	srv.SetOffline(1, false)
	// Back means stored again: frames received are not yet footage until
	// their fragment is cut and indexed, so wait on the index itself.
	waitUntil(t, 20*time.Second, "cam1 stored again", func() bool {
		spans, err := rec.Coverage("cam1", start.Add(-time.Minute), time.Now().Add(time.Minute))
		return err == nil && len(spans) >= 2
	})
	cancel()
	<-done
	defer rec.Close()

	spans, err := rec.Coverage("cam1", start.Add(-time.Minute), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 2 {
		t.Fatalf("cam1: %d spans, want 2 around the outage: %v", len(spans), spans)
	}
	gap := spans[1].Start.Sub(spans[0].End)
	t.Logf("cam1: gap %v after a %v outage", gap.Round(time.Millisecond), outage)
	if gap < outage-time.Second || gap > outage+2*time.Second {
		t.Fatalf("gap %v after a %v outage", gap, outage)
	}
	if spans, _ := rec.Coverage("cam2", start.Add(-time.Minute), time.Now().Add(time.Minute)); len(spans) != 1 {
		t.Fatalf("cam2: %d spans, want 1: %v", len(spans), spans)
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
