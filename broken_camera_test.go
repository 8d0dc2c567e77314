package main

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"mimamori/core"
	"mimamori/recorder"
	"mimamori/simcam"
)

// TestBrokenCamerasWriteFewLedgerEntries records three simulated cameras
// with the real recorder: one whose timestamps go backwards at every GOP,
// one whose every GOP is too big for any block (it can never write), and
// a healthy one. Core's clock runs 240 times faster than the recorder's,
// so 15 s of recording is an hour of ledger windows. Each broken camera
// must write at most 6 entries in that hour (the state change, then a
// summary with counts every 10 minutes), and the summaries must show the
// events really kept coming.
func TestBrokenCamerasWriteFewLedgerEntries(t *testing.T) {
	const speed = 240
	log := discardLogger()
	cams, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 3, Codec: "h264", Logger: log,
		Faults: map[int]simcam.Fault{
			1: {BackwardsTimestamps: true},
			2: {HugeNALU: 3 << 20}, // 3 MiB on every IDR: larger than a 1 MiB block
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cams.Start(); err != nil {
		t.Fatal(err)
	}
	defer cams.Close()

	realStart := time.Now()
	base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	fast := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return base.Add(time.Since(realStart) * speed)
	}
	dir := t.TempDir()
	st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{Now: fast, Logger: log, ManualTick: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := recorder.New(recorder.Options{DataDir: dir, Capacity: 16 << 20, BlockSize: 1 << 20, HoldShare: 0.1,
		Retention: 24 * time.Hour, Ledger: st, Logger: log,
		Cameras: []recorder.Camera{{ID: "backwards", URL: cams.URL(1)}, {ID: "noblock", URL: cams.URL(2)}, {ID: "healthy", URL: cams.URL(3)}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rec.Run(ctx) }()
	// 14.5 s of recording: just under an hour of core time; tick every
	// 30 core seconds, as the store's own loop would.
	tick := time.NewTicker(time.Second / 8)
	for end := realStart.Add(14500 * time.Millisecond); time.Now().Before(end); {
		<-tick.C
		st.TickMachineRecords()
	}
	tick.Stop()
	cancel()
	<-done
	if err := rec.Close(); err != nil {
		t.Error(err)
	}
	st.TickMachineRecords()

	// Entries before shutdown (which writes one more summary per camera,
	// the end of its run).
	entries := map[string][]core.Entry{}
	es, err := st.Ledger(core.Actor{Fingerprint: "t", Name: "t", Role: core.RoleManager}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Action == core.ActionRecordingEvent {
			entries[e.Subject] = append(entries[e.Subject], e)
		}
	}
	for _, cam := range []string{"backwards", "noblock"} {
		got := entries[cam]
		if len(got) > 6 {
			t.Errorf("%s: %d entries in %s of core time, want at most 6", cam, len(got), fast().Sub(base).Round(time.Minute))
		}
		events := 0
		for _, e := range got {
			if e.Details["kind"] != "summary" {
				events++
				continue
			}
			for k, v := range e.Details {
				if n, err := strconv.Atoi(v); err == nil && !isMeta(k) {
					events += n
				}
			}
		}
		if events < 10 {
			t.Errorf("%s: only %d events reached the ledger: the fault did not take (%v)", cam, events, got)
		}
		t.Logf("%s: %d entries for %d events", cam, len(got), events)
	}
	if n := len(entries["healthy"]); n > 1 {
		t.Errorf("healthy camera: %d entries: %v", n, entries["healthy"])
	}
}

// isMeta: summary detail keys that are not per-kind counts.
func isMeta(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] == '.' {
			return true
		}
	}
	return k == "kind" || k == "window_from" || k == "window_to"
}
