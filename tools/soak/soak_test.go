package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSoakShort runs two simulated days of the soak at a small scale with
// everything the year has (a restart, a clock step, a camera whose
// timestamps go backwards every GOP, one that gets no block, holds, the
// daily police request through export to close) and checks the machine
// records stay in proportion: at most one erasure entry per camera per
// hour (+ one per camera at a restart), at most 6 event entries an hour
// per broken camera, though the recorder reported tens of thousands.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates two days")
	}
	dir := t.TempDir()
	p := params{Dir: filepath.Join(dir, "data"), Days: 2, Cameras: 4, PolicyName: "city-standard", ApplianceID: "soak-test",
		Bitrate: 4_000_000, RealBlock: 4 << 20, Scale: 1024, SyncEvery: 10, SweepEvery: 15, Parallel: 2,
		RestartEvery: 1, HoldShare: 0.5, ClockStepDay: 1, BackwardsDay: 0, NoBlockDay: 1, HoldEvery: 1, CSV: filepath.Join(dir, "days.csv")}
	if err := p.derive("2026-03-01", 0.1); err != nil {
		t.Fatal(err)
	}
	if p.FragsPerBlock != 8 || p.Payload != 432 {
		t.Fatalf("scale: %d fragments of %d bytes a block, want 8 of 432 (as 500 kB in 4 MiB)", p.FragsPerBlock, p.Payload)
	}
	if err := run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p.CSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d CSV rows, want a header and 2 days", len(recs))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	num := func(r []string, name string) int {
		n, err := strconv.Atoi(r[col[name]])
		if err != nil {
			t.Fatalf("%s: %q", name, r[col[name]])
		}
		return n
	}
	day2 := recs[2]
	if n, max := num(day2, "erasure"), p.Cameras*24+p.Cameras; n == 0 || n > max {
		t.Errorf("day 2: %d erasure entries, want 1..%d", n, max)
	}
	// Day 2: both cameras broken all day (6 an hour each), cameras up
	// after the restart, and the clock's two steps.
	events := num(day2, "event_state") + num(day2, "event_summary")
	if max := 2*(6*24+1) + p.Cameras + 2; events > max {
		t.Errorf("day 2: %d recording-event entries, want at most %d", events, max)
	}
	if sent := num(day2, "recorder_events"); sent < 2*86000 {
		t.Errorf("day 2: the recorder reported only %d events: the faults did not take", sent)
	}
	if n := num(day2, "people"); n < 15 {
		t.Errorf("day 2: %d people's entries: the police request did not go through", n)
	}
	if day2[col["offline_verify_ms"]] == "" {
		t.Error("day 2: no offline verification at the restart")
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("data directory left behind without -keep: %v", err)
	}
}
