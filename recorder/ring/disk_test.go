package ring

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"mimamori/config"
	"mimamori/core"
)

func TestMinBlocksPerCameraAgreesWithConfig(t *testing.T) {
	if MinBlocksPerCamera != config.MinBlocksPerCamera {
		t.Fatalf("ring needs %d blocks per camera, config checks %d", MinBlocksPerCamera, config.MinBlocksPerCamera)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A capacity above the free space is refused before anything is written.
func TestCapacityAboveFreeSpaceRefused(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Dir = filepath.Join(e.dir, "ring")
	o.Capacity = 1 << 60
	o.BlockSize = 1 << 30
	_, err := Open(o)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Open with 1 EiB: %v, want ErrNoSpace", err)
	}
	t.Log(err)
	if names := listDir(t, o.Dir); len(names) != 0 {
		t.Fatalf("refused ring left %v behind", names)
	}
}

// A preallocation that fails anyway leaves nothing behind, and a retry
// with a smaller capacity works (no "ring geometry differs").
func TestFailedPreallocationLeavesNothing(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Capacity = 64 << 20
	o.BlockSize = 1 << 20
	o.fallocate = func(int, int64) error { return syscall.ENOSPC }
	if _, err := Open(o); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Open with failing preallocation: %v, want ErrNoSpace", err)
	}
	if names := listDir(t, e.dir); len(names) != 0 {
		t.Fatalf("failed ring left %v behind", names)
	}
	o.fallocate = nil
	o.Capacity = 32 << 20
	r := mustOpen(t, o)
	defer r.Close()
	if st := r.Stats(); st.CapacityBytes != 32<<20 {
		t.Fatalf("retry: capacity %d", st.CapacityBytes)
	}
}

// An existing ring is never removed because a later open failed.
func TestFailedOpenKeepsExistingRing(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 6, fragSize)
	r.Close()
	o := e.tinyOpts()
	o.Capacity *= 2
	if _, err := Open(o); !errors.Is(err, ErrGeometry) {
		t.Fatalf("Open with another capacity: %v", err)
	}
	r = mustOpen(t, e.tinyOpts())
	defer r.Close()
	if refs := verifyAll(t, r, "cam1", fragSize); len(refs) != 6 {
		t.Fatalf("%d fragments after a refused reopen, want 6", len(refs))
	}
}

// hold_share 0 means no holds: every hold is refused, with a reason.
func TestHoldShareZeroRefusesHolds(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.HoldShare = 0
	r := mustOpen(t, o)
	defer r.Close()
	err := r.CheckHold("cam1", t0, t0.Add(time.Second), nil)
	if !errors.Is(err, core.ErrHoldCapacity) || !errors.Is(err, ErrNoHolds) {
		t.Fatalf("CheckHold with hold_share 0: %v", err)
	}
	if st := r.Stats(); st.HoldLimitBytes != 0 {
		t.Fatalf("hold limit %d, want 0", st.HoldLimitBytes)
	}
}

func hasAlert(st core.RingStats, kind, camera string) bool {
	for _, a := range st.Alerts {
		if a.Kind == kind && a.Camera == camera {
			return true
		}
	}
	return false
}

// A camera that finds no block (all held) raises an alert and an event,
// both cleared once it records again.
func TestStarvedCameraAlert(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	e.holds.set(core.HoldRange{Camera: "cam1", From: t0, To: t0.Add(time.Hour), Until: t0.Add(1000 * time.Hour)})
	var err error
	i := 0
	for ; i < 200 && err == nil; i++ {
		err = r.AppendFragment(Fragment{Camera: "cam1", Start: t0.Add(time.Duration(i) * time.Second), Duration: time.Second,
			InitID: id, Payload: payloadFor("cam1", i, fragSize)})
	}
	if !errors.Is(err, ErrRingFull) {
		t.Fatalf("append into a fully held ring: %v", err)
	}
	r.AppendFragment(Fragment{Camera: "cam1", Start: t0.Add(time.Duration(i) * time.Second), Duration: time.Second,
		InitID: id, Payload: payloadFor("cam1", i, fragSize)})
	if st := r.Stats(); !hasAlert(st, AlertStarved, "cam1") || !hasAlert(st, AlertWriteErrors, "") {
		t.Fatalf("alerts %+v: want camera-starved cam1 and write-errors", st.Alerts)
	}
	if n := countKind(drainEvents(r), "camera-starved"); n != 1 {
		t.Fatalf("%d camera-starved events for repeated failures, want 1", n)
	}
	e.holds.set()
	appendSeq(t, r, e, "cam1", id, 300, 301, fragSize)
	if st := r.Stats(); hasAlert(st, AlertStarved, "cam1") {
		t.Fatalf("starved alert still up after the camera recorded: %+v", st.Alerts)
	}
	if n := countKind(drainEvents(r), "camera-starved-end"); n != 1 {
		t.Fatalf("%d camera-starved-end events, want 1", n)
	}
}

// ENOSPC from a write raises disk-full and write-errors.
func TestDiskFullAlert(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to simulate ENOSPC: %v", err)
	}
	defer full.Close()
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	good := r.f
	r.f = full
	err = r.AppendFragment(Fragment{Camera: "cam1", Start: t0, Duration: time.Second, InitID: id, Payload: payloadFor("cam1", 0, fragSize)})
	r.f = good
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v", err)
	}
	if st := r.Stats(); !hasAlert(st, AlertDiskFull, "") || !hasAlert(st, AlertWriteErrors, "") {
		t.Fatalf("alerts %+v: want disk-full and write-errors", st.Alerts)
	}
}

// A disk operation outstanding for seconds raises disk-stall, and Stats
// answers at once while every lock a disk operation may hold is taken.
func TestDiskStallAlertAndStatsDoNotWait(t *testing.T) {
	e := newEnv(t)
	r := mustOpen(t, e.tinyOpts())
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 3, fragSize)
	done := r.io.begin()
	r.io.mu.Lock()
	for k := range r.io.starts {
		r.io.starts[k] = time.Now().Add(-2 * stallAfter)
	}
	r.io.mu.Unlock()

	c, _ := r.lookupCamera("cam1")
	c.mu.Lock()
	r.syncMu.Lock()
	r.regMu.Lock()
	r.keyMu.Lock()
	got := make(chan core.RingStats, 1)
	go func() { got <- r.Stats() }()
	select {
	case st := <-got:
		if !hasAlert(st, AlertDiskStall, "") {
			t.Errorf("alerts %+v: want disk-stall", st.Alerts)
		}
	case <-time.After(10 * time.Second):
		t.Error("Stats waited for a lock a disk operation holds")
	}
	r.keyMu.Unlock()
	r.regMu.Unlock()
	r.syncMu.Unlock()
	c.mu.Unlock()
	var w stallWatch
	r.watchStall(&w)
	done()
	r.watchStall(&w)
	evs := drainEvents(r)
	if countKind(evs, "disk-stall") != 1 || countKind(evs, "disk-stall-end") != 1 {
		t.Fatalf("events %+v: want one disk-stall and one disk-stall-end", evs)
	}
	if st := r.Stats(); hasAlert(st, AlertDiskStall, "") {
		t.Fatal("disk-stall alert outlived the stall")
	}
}
