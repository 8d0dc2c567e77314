package core

import (
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// stepFreeClock stands in for the ring's trusted clock.
type stepFreeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepFreeClock) TrustedNow() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepFreeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The wall clock is stepped four days ahead while a manager's hold has
// two days to run; then holds change. Core must go on judging the hold
// in force (on the trusted clock): in the recorder's snapshot, against the
// hold share, and for the appliance's copy of the package it covers —
// which goes only once the hold has lapsed on the trusted clock.
func TestHoldsLapseOnTheTrustedClockNotTheWallClock(t *testing.T) {
	s, wall := newExportStoreClock(t)
	trusted := &stepFreeClock{t: wall.Now()}
	s.SetTrustedClock(trusted)
	foot := &fakeFootage{maxHolds: 1} // the managers' share holds one hold
	s.SetFootage(foot)
	r := exportedRequest(t, s)
	h, err := s.AddHold(manager, HoldInput{Camera: "cam1", From: r.From, To: r.To, Until: wall.Now().Add(2 * 24 * time.Hour),
		Reason: "court case"})
	if err != nil {
		t.Fatal(err)
	}

	wall.Advance(4 * 24 * time.Hour) // the step
	trusted.Advance(time.Minute)     // what really passed
	if got := s.TrustedNow(); !got.Equal(trusted.TrustedNow()) {
		t.Fatalf("TrustedNow %v after a forward step, want the trusted %v", got, trusted.TrustedNow())
	}
	// A hold change after the step rebuilds the snapshot.
	if _, err := s.ReleaseRequestHolds(manager, r.ID, "no longer needed"); err != nil {
		t.Fatal(err)
	}
	inForce := func() bool {
		return slices.ContainsFunc(s.ActiveHolds(s.TrustedNow()), func(x HoldRange) bool { return x.HoldID == h.ID })
	}
	if !inForce() {
		t.Fatal("the hold vanished from the recorder's snapshot after a wall-clock step and a hold change")
	}
	// The share is still taken by it.
	_, err = s.AddHold(manager, HoldInput{Camera: "cam1", From: r.From.Add(-time.Hour), To: r.From,
		Until: wall.Now().Add(5 * 24 * time.Hour), Reason: "another case"})
	if !errors.Is(err, ErrConflict) || !errors.Is(err, ErrHoldCapacity) {
		t.Fatalf("a second hold beyond the share after the step: %v (the first counted as lapsed)", err)
	}
	// The handover keeps the copy the hold covers, and so does the sweep.
	handover(t, s, r.ID)
	if _, err := os.Stat(r.Export.Path); err != nil {
		t.Fatalf("held package erased at handover after a wall-clock step: %v", err)
	}
	if n, err := s.SweepExportCopies(system, s.TrustedNow()); err != nil || n != 0 {
		t.Fatalf("sweep while held: %d %v", n, err)
	}

	// Two more days really pass: the hold lapses, the copy goes.
	trusted.Advance(2*24*time.Hour + time.Minute)
	wall.Advance(2*24*time.Hour + time.Minute)
	if inForce() {
		t.Fatal("the hold is still in force after its end on the trusted clock")
	}
	if n, err := s.SweepExportCopies(system, s.TrustedNow()); err != nil || n != 1 {
		t.Fatalf("sweep after the hold lapsed: %d %v", n, err)
	}
	if _, err := os.Stat(r.Export.Path); !os.IsNotExist(err) {
		t.Fatal("package kept after its hold lapsed")
	}

	// A wall clock stepped back is earlier than the trusted clock, and
	// earlier is what counts: lapses come late, never early.
	wall.Advance(-24 * time.Hour)
	if got, w := s.TrustedNow(), wall.Now(); got.After(w) {
		t.Fatalf("TrustedNow %v after a backward step, want at most the wall clock %v", got, w)
	}
}
