package recorder

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestCamerasFollowCorrectedClock runs the real recorder on a wall clock
// that is stepped a day ahead and then corrected: the ring detects each
// step once, every camera re-anchors at its next keyframe, and after the
// correction new footage is stamped at the corrected time again — not a
// day ahead until a restart.
func TestCamerasFollowCorrectedClock(t *testing.T) {
	srv := startSimcam(t, 2, 1_000_000)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	rec, err := New(Options{
		DataDir: t.TempDir(), Capacity: 64 << 20, BlockSize: 1 << 20, Retention: 24 * time.Hour,
		SyncInterval: 200 * time.Millisecond, Now: now,
		Cameras: []Camera{{ID: "cam1", URL: srv.URL(1)}, {ID: "cam2", URL: srv.URL(2)}},
		Ledger:  &memLedger{},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rec.Run(ctx) }()
	defer func() { cancel(); <-done; rec.Close() }()

	// recordedSince: cam has a fragment starting in [from, from+1 min).
	recordedSince := func(cam string, from time.Time) func() bool {
		return func() bool {
			refs, _ := rec.Ring().Fragments(cam, from, from.Add(time.Minute))
			return len(refs) > 0 && !refs[len(refs)-1].Start.Before(from)
		}
	}
	t0 := time.Now()
	for _, cam := range []string{"cam1", "cam2"} {
		waitUntil(t, 20*time.Second, cam+" recording", recordedSince(cam, t0))
	}

	offset.Store(int64(24 * time.Hour)) // a wrong step
	stepped := now()
	waitUntil(t, 10*time.Second, "step detected", func() bool { return rec.Ring().ClockSteps() == 1 })
	for _, cam := range []string{"cam1", "cam2"} {
		waitUntil(t, 20*time.Second, cam+" following the stepped clock", recordedSince(cam, stepped))
	}

	offset.Store(0) // corrected
	corrected := time.Now()
	waitUntil(t, 10*time.Second, "correction detected", func() bool { return rec.Ring().ClockSteps() == 2 })
	for _, cam := range []string{"cam1", "cam2"} {
		waitUntil(t, 20*time.Second, cam+" back on the corrected clock", recordedSince(cam, corrected))
	}
	for _, c := range rec.Stats().Cameras {
		if c.ClockJumps != 2 || c.Reconnects != 0 {
			t.Errorf("%s: %d re-anchors, %d reconnects; want 2 and 0", c.Camera, c.ClockJumps, c.Reconnects)
		}
	}
}
