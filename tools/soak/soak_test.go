package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
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
// It runs twice, with 1-s fragments and with 4-s fragments (-fragment-
// seconds 4: 2 a 4 MiB block, so a block holds 8 s as with 1-s ones), and
// checks coarse fragments change only the number of fragments: the
// recorder's events are the same, the blocks erased and the ledger's
// machine records the same within a few per cent.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates two days, twice")
	}
	one := soakDay2(t, 1, 8, 432)
	four := soakDay2(t, 4, 2, 1968)
	if one["recorder_events"] != four["recorder_events"] {
		t.Errorf("day 2: the recorder reported %d events with 1-s fragments, %d with 4-s ones: faults per second must not depend on the fragment",
			one["recorder_events"], four["recorder_events"])
	}
	for _, k := range []string{"erased_blocks", "erasure", "event_state", "event_summary"} {
		if a, b := one[k], four[k]; 20*abs(a-b) > a+b {
			t.Errorf("day 2: %s %d with 1-s fragments, %d with 4-s ones", k, a, b)
		}
	}
	if r := float64(one["fragments"]) / float64(four["fragments"]); r < 3.8 || r > 4.2 {
		t.Errorf("day 2: %d fragments with 1-s fragments, %d with 4-s ones (ratio %.2f, want 4)", one["fragments"], four["fragments"], r)
	}
}

func abs(n int) int { return max(n, -n) }

// soakDay2 runs the short soak with fragments of secs seconds, checks the
// scale and day 2's proportions, and returns day 2's numeric columns.
func soakDay2(t *testing.T, secs, perBlock, payload int) map[string]int {
	t.Helper()
	dir := t.TempDir()
	p := params{Dir: filepath.Join(dir, "data"), Days: 2, Cameras: 4, PolicyName: "city-standard", ApplianceID: "soak-test",
		Bitrate: 4_000_000, RealBlock: 4 << 20, Scale: 1024, FragSeconds: secs, SyncEvery: 10, SweepEvery: 15, ExportSweepEvery: 60, Parallel: 2,
		RestartEvery: 1, HoldShare: 0.5, ClockStepDay: 1, BackwardsDay: 0, NoBlockDay: 1, HoldEvery: 1, CSV: filepath.Join(dir, "days.csv")}
	if err := p.derive("2026-03-01", 0.1); err != nil {
		t.Fatal(err)
	}
	if p.FragsPerBlock != perBlock || p.Payload != payload || p.BlockSeconds != 8 {
		t.Fatalf("scale: %d %d-s fragments of %d bytes a block (%d s), want %d of %d bytes (8 s, as in a real 4 MiB block)",
			p.FragsPerBlock, secs, p.Payload, p.BlockSeconds, perBlock, payload)
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
	day2 := map[string]int{}
	for i, h := range recs[0] {
		if n, err := strconv.Atoi(recs[2][i]); err == nil {
			day2[h] = n
		}
	}
	if n, max := day2["erasure"], p.Cameras*24+p.Cameras; n == 0 || n > max {
		t.Errorf("%d-s fragments, day 2: %d erasure entries, want 1..%d", secs, n, max)
	}
	// Day 2: both cameras broken all day (6 an hour each), cameras up
	// after the restart, and the clock's two steps.
	events := day2["event_state"] + day2["event_summary"]
	if max := 2*(6*24+1) + p.Cameras + 2; events > max {
		t.Errorf("%d-s fragments, day 2: %d recording-event entries, want at most %d", secs, events, max)
	}
	if sent := day2["recorder_events"]; sent < 2*86000 {
		t.Errorf("%d-s fragments, day 2: the recorder reported only %d events: the faults did not take", secs, sent)
	}
	if n := day2["people"]; n < 15 {
		t.Errorf("%d-s fragments, day 2: %d people's entries: the police request did not go through", secs, n)
	}
	if recs[2][slices.Index(recs[0], "offline_verify_ms")] == "" {
		t.Errorf("%d-s fragments, day 2: no offline verification at the restart", secs)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("data directory left behind without -keep: %v", err)
	}
	return day2
}
