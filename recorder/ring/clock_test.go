package ring

import (
	"testing"
	"time"

	"mimamori/core"
)

// drainEvents takes the queued events (Run would hand them to the log).
func drainEvents(r *Ring) []eventReq {
	var out []eventReq
	for {
		select {
		case ev := <-r.events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func countKind(evs []eventReq, kind string) int {
	n := 0
	for _, ev := range evs {
		if ev.kind == kind {
			n++
		}
	}
	return n
}

// clockRig: retention 1 h; cam1 unheld, cam2 held until 2 h after t0
// (real time). Both record 30 s from t0, in whole blocks.
func clockRig(t *testing.T) (*env, *Ring) {
	t.Helper()
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Hour
	r := mustOpen(t, o)
	t.Cleanup(func() { r.Close() })
	id1, _ := r.AppendInit("cam1", initFor("cam1"))
	id2, _ := r.AppendInit("cam2", initFor("cam2"))
	for i := range 30 {
		appendSeq(t, r, e, "cam1", id1, i, i+1, fragSize)
		appendSeq(t, r, e, "cam2", id2, i, i+1, fragSize)
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	e.holds.set(core.HoldRange{HoldID: "H1", Camera: "cam2", From: t0, To: t0.Add(30 * time.Second), Until: t0.Add(2 * time.Hour)})
	r.observeHolds() // the ring sees the hold (Run does this every tick)
	return e, r
}

func frags(t *testing.T, r *Ring, cam string) int {
	t.Helper()
	return countFrags(t, r, cam, t0.Add(-48*time.Hour), t0.Add(48*time.Hour))
}

// A wall clock stepped a day forward: nothing young is erased and the hold
// does not lapse; retention and the hold still end on real time.
func TestClockStepForwardDay(t *testing.T) {
	e, r := clockRig(t)
	e.clock.Advance(10 * time.Minute)
	e.clock.Step(24 * time.Hour)
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := frags(t, r, "cam1"), frags(t, r, "cam2"); n1 != 30 || n2 != 30 || len(e.er.list()) != 0 {
		t.Fatalf("after +1 day: cam1 %d, cam2 %d fragments, %d erasures; want all kept", n1, n2, len(e.er.list()))
	}
	if st := r.Stats(); st.ClockSteps != 1 || st.LastClockStepBy != 24*time.Hour || st.ClockOffset != 24*time.Hour {
		t.Fatalf("stats after the step: steps %d by %s, offset %s", st.ClockSteps, st.LastClockStepBy, st.ClockOffset)
	}
	if evs := drainEvents(r); countKind(evs, "clock-step") != 1 {
		t.Fatalf("events %+v: want one clock-step", evs)
	}
	// Retention by real time: 70 min after recording, cam1 goes, cam2 is held.
	e.clock.Advance(time.Hour)
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := frags(t, r, "cam1"), frags(t, r, "cam2"); n1 != 0 || n2 != 30 {
		t.Fatalf("70 min on: cam1 %d, cam2 %d fragments; want 0 and 30 (held)", n1, n2)
	}
	// The hold lapses 2 h after t0 in real time, not by the stepped wall clock.
	e.clock.Advance(45 * time.Minute) // real t0+1h55m
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 30 {
		t.Fatalf("hold lapsed early: cam2 %d fragments at real t0+1h55m", n)
	}
	e.clock.Advance(10 * time.Minute)
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 0 {
		t.Fatalf("hold kept past its end: cam2 %d fragments at real t0+2h05m", n)
	}
	if n := countKind(drainEvents(r), "clock-step"); n != 0 {
		t.Fatalf("the step was reported %d more times", n)
	}
}

// A wall clock stepped an hour back: no hold lapses early, and footage is
// still erased on time (by ring time, not an hour late).
func TestClockStepBackHour(t *testing.T) {
	e, r := clockRig(t)
	e.clock.Advance(10 * time.Minute)
	e.clock.Step(-time.Hour)
	r.Sweep()
	if st := r.Stats(); st.ClockSteps != 1 || st.LastClockStepBy != -time.Hour {
		t.Fatalf("step back not detected: %d by %s", st.ClockSteps, st.LastClockStepBy)
	}
	e.clock.Advance(55 * time.Minute) // real t0+65m
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := frags(t, r, "cam1"), frags(t, r, "cam2"); n1 != 0 || n2 != 30 {
		t.Fatalf("real t0+65m: cam1 %d (want 0: retention on time), cam2 %d (want 30: held)", n1, n2)
	}
	e.clock.Advance(50 * time.Minute) // real t0+1h55m
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 30 {
		t.Fatalf("hold lapsed early after a step back: cam2 %d fragments", n)
	}
	e.clock.Advance(10 * time.Minute)
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 0 {
		t.Fatalf("hold kept past its end: cam2 %d fragments", n)
	}
}

// A hold placed after the wall clock went back still lasts its full time.
func TestHoldPlacedAfterStepBackLastsItsTime(t *testing.T) {
	e, r := clockRig(t)
	e.holds.set()
	e.clock.Step(-time.Hour)
	r.Sweep()
	// core computes Until from the (stepped) wall clock: 2 h from now.
	e.holds.set(core.HoldRange{HoldID: "H2", Camera: "cam2", From: t0, To: t0.Add(30 * time.Second), Until: e.clock.Now().Add(2 * time.Hour)})
	r.observeHolds()
	e.clock.Step(time.Hour) // corrected
	e.clock.Advance(115 * time.Minute)
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 30 {
		t.Fatalf("hold placed during the step lapsed early: cam2 %d fragments", n)
	}
	e.clock.Advance(10 * time.Minute)
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 0 {
		t.Fatalf("hold kept past its 2 h: cam2 %d fragments", n)
	}
}

// Steps well under an hour are seen; drift below the threshold is not a step.
func TestSmallClockStepsDetected(t *testing.T) {
	e, r := clockRig(t)
	e.clock.Step(time.Second)
	r.Sweep()
	if n := r.ClockSteps(); n != 0 {
		t.Fatalf("a 1 s step counted as %d steps", n)
	}
	e.clock.Step(4 * time.Second) // 5 s from the baseline
	r.Sweep()
	e.clock.Step(-10 * time.Minute)
	r.Sweep()
	if n := r.ClockSteps(); n != 2 {
		t.Fatalf("%d steps detected, want 2 (+5 s, -10 min)", n)
	}
}

// Ring time survives a restart: on the same boot the monotonic clock
// measures the downtime (and a wall step made meanwhile is caught); after
// a reboot the wall-clock gap is credited once the clock is synchronized
// (clock_reboot_test.go has the rest).
func TestRingTimeAcrossRestart(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = time.Hour
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 12, fragSize)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Stopped for 20 min, during which the wall clock was set a day ahead.
	e.clock.Advance(20 * time.Minute)
	e.clock.Step(24 * time.Hour)
	r = mustOpen(t, o)
	if n := r.ClockSteps(); n != 1 {
		t.Fatalf("wall step while stopped: %d steps detected, want 1", n)
	}
	r.Sweep()
	if n := frags(t, r, "cam1"); n != 12 {
		t.Fatalf("20 min after recording, %d of 12 fragments left", n)
	}
	r.Close()
	// A reboot (new boot id, the monotonic clock restarts near zero) after
	// 45 min by the wall clock: credited, so retention is due.
	e.clock.mu.Lock()
	e.clock.t = e.clock.t.Add(45 * time.Minute)
	e.clock.mono = time.Minute
	e.clock.mu.Unlock()
	o.BootID = "another-boot"
	o.ClockSynced = func() bool { return true } // NTP vouches for the wall clock
	r = mustOpen(t, o)
	defer r.Close()
	r.Sweep()
	if n := frags(t, r, "cam1"); n != 0 {
		t.Fatalf("65 min of ring time after recording, %d fragments left", n)
	}
}

// A hold that lapsed days ago is handed over again once the wall clock
// goes back far enough (core reports holds by the time it is asked). The
// ring must remember that it lapsed: judged afresh against the stepped
// clock it would come back to life and keep its footage past retention.
func TestLapsedHoldStaysLapsedAfterStepBack(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	o.Retention = 4 * 24 * time.Hour
	r := mustOpen(t, o)
	defer r.Close()
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 12, fragSize)
	e.holds.set(core.HoldRange{HoldID: "H", Camera: "cam1", From: t0, To: t0.Add(12 * time.Second), Until: t0.Add(time.Hour)})
	r.observeHolds()
	for range 3 * 24 { // three days of ticks and syncs: the hold lapses and is long past
		e.clock.Advance(time.Hour)
		r.observeHolds()
		if err := r.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Step(-4 * 24 * time.Hour)
	r.observeHolds()
	e.clock.Advance(24*time.Hour + time.Minute) // real t0+4d+1m: past retention
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n := frags(t, r, "cam1"); n != 0 {
		t.Fatalf("%d fragments kept past retention by a hold that lapsed three days before the clock went back", n)
	}
}
