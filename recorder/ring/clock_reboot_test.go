package ring

import (
	"sync/atomic"
	"testing"
	"time"

	"mimamori/core"
)

// rebootAt closes r and reopens the ring as after a reboot: a new boot
// id, the monotonic clock restarted, real time advanced by down, and the
// wall clock at boot reading bootWall (what the RTC said).
func rebootAt(t *testing.T, e *env, o *Options, r *Ring, down time.Duration, bootWall time.Time) *Ring {
	t.Helper()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	e.clock.mu.Lock()
	e.clock.t = bootWall
	e.clock.mono = 30 * time.Second // the kernel booted 30 s before the appliance started
	e.clock.mu.Unlock()
	_ = down // real time passes only in the test's own reckoning: nothing on the box measured it
	o.BootID = "boot-after-" + bootWall.Format(time.RFC3339)
	r = mustOpen(t, *o)
	t.Cleanup(func() { r.Close() })
	return r
}

// syncedFlag is Options.ClockSynced for tests: what the kernel would say
// about the wall clock (adjtimex).
type syncedFlag struct{ v atomic.Bool }

func (s *syncedFlag) get() bool { return s.v.Load() }

// rebootRig is clockRig (retention 1 h, cam1 unheld, cam2 held until t0+2h
// real time, 30 s recorded from t0) with the kernel's sync flag in the
// test's hands.
func rebootRig(t *testing.T) (*env, Options, *Ring, *syncedFlag) {
	t.Helper()
	e := newEnv(t)
	sf := &syncedFlag{}
	o := e.tinyOpts()
	o.Retention = time.Hour
	o.ClockSynced = sf.get
	r := mustOpen(t, o)
	id1, _ := r.AppendInit("cam1", initFor("cam1"))
	id2, _ := r.AppendInit("cam2", initFor("cam2"))
	for i := range 30 {
		appendSeq(t, r, e, "cam1", id1, i, i+1, fragSize)
		appendSeq(t, r, e, "cam2", id2, i, i+1, fragSize)
	}
	e.holds.set(core.HoldRange{HoldID: "H1", Camera: "cam2", From: t0, To: t0.Add(30 * time.Second), Until: t0.Add(2 * time.Hour)})
	r.observeHolds()
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	return e, o, r, sf
}

// The appliance is off for 5 minutes and boots with its clock a year
// ahead (a bad RTC); NTP corrects it a minute later. Nothing young may be
// erased and no hold may lapse in between; once the clock is confirmed,
// retention and the hold end on real time.
func TestRebootWithClockAheadErasesNothing(t *testing.T) {
	e, o, r, sf := rebootRig(t)
	real := t0.Add(30*time.Second + 5*time.Minute) // real time at boot
	year := 365 * 24 * time.Hour
	r = rebootAt(t, e, &o, r, 5*time.Minute, real.Add(year))
	if err := r.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := frags(t, r, "cam1"), frags(t, r, "cam2"); n1 != 30 || n2 != 30 || len(e.er.list()) != 0 {
		t.Fatalf("booted with the clock a year ahead: cam1 %d, cam2 %d fragments, %d erasures; want all kept",
			n1, n2, len(e.er.list()))
	}
	if tw := r.TrustedNow(); tw.After(real.Add(time.Hour)) {
		t.Fatalf("trusted time %s follows the bad boot clock (real %s)", tw, real)
	}
	// NTP steps the clock back to real time and reports it synchronized.
	e.clock.Advance(time.Minute)
	e.clock.Step(-year)
	sf.v.Store(true)
	r.Sweep()
	if n1, n2 := frags(t, r, "cam1"), frags(t, r, "cam2"); n1 != 30 || n2 != 30 {
		t.Fatalf("after the correction: cam1 %d, cam2 %d fragments; want all kept", n1, n2)
	}
	// Real t0+62 min: cam1 is past its hour (by real time, downtime counted).
	e.clock.Set(t0.Add(62 * time.Minute))
	r.Sweep()
	if n1, n2 := frags(t, r, "cam1"), frags(t, r, "cam2"); n1 != 0 || n2 != 30 {
		t.Fatalf("real t0+62m: cam1 %d (want 0), cam2 %d (want 30, held)", n1, n2)
	}
	e.clock.Set(t0.Add(118 * time.Minute))
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 30 {
		t.Fatalf("hold lapsed early: cam2 %d fragments at real t0+1h58m", n)
	}
	e.clock.Set(t0.Add(123 * time.Minute))
	r.Sweep()
	if n := frags(t, r, "cam2"); n != 0 {
		t.Fatalf("hold kept past its end: cam2 %d fragments at real t0+2h03m", n)
	}
}

// A dead RTC boots the appliance in the year 2000 after 3 hours off. When
// the clock is corrected, the downtime counts: footage past its retention
// is erased then, not 3 hours late.
func TestRebootWithClockBehindCreditsDowntimeOnceCorrected(t *testing.T) {
	e, o, r, sf := rebootRig(t)
	real := t0.Add(30*time.Second + 3*time.Hour)
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	r = rebootAt(t, e, &o, r, 3*time.Hour, y2k)
	r.Sweep()
	if n := frags(t, r, "cam1"); n != 30 {
		t.Fatalf("cam1 %d fragments before the clock is known", n)
	}
	e.clock.Advance(time.Minute)
	e.clock.Step(real.Add(time.Minute).Sub(e.clock.Now())) // NTP: a step forward of ~26 years
	sf.v.Store(true)
	r.Sweep()
	if n1, n2 := frags(t, r, "cam1"), frags(t, r, "cam2"); n1 != 0 || n2 != 0 {
		t.Fatalf("3 h after recording (clock corrected): cam1 %d, cam2 %d fragments; want 0 and 0 (retention 1 h, hold until +2 h)", n1, n2)
	}
}

// Footage recorded in the minutes after a reboot is not aged by the
// downtime credited later, and a hold placed then lasts its full time.
func TestRebootCreditAgesOnlyOlderFootage(t *testing.T) {
	e, o, r, sf := rebootRig(t)
	real := t0.Add(30*time.Second + 50*time.Minute) // off 50 min: cam1 still has 10 min
	r = rebootAt(t, e, &o, r, 50*time.Minute, real)
	id, _ := r.AppendInit("cam3", initFor("cam3"))
	e.clock.Advance(time.Second)
	st := e.clock.Now()
	if err := r.AppendFragment(Fragment{Camera: "cam3", Start: st, Duration: time.Second, Keyframe: true,
		InitID: id, Payload: payloadFor("cam3", 0, fragSize)}); err != nil {
		t.Fatal(err)
	}
	e.holds.set(core.HoldRange{HoldID: "H1", Camera: "cam2", From: t0, To: t0.Add(30 * time.Second), Until: t0.Add(2 * time.Hour)},
		core.HoldRange{HoldID: "H3", Camera: "cam3", From: st, To: st.Add(time.Second), Until: e.clock.Now().Add(90 * time.Minute)})
	r.observeHolds()
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	for _, c := range r.cams {
		r.sealLocked(c)
	}
	r.mu.Unlock()
	// The kernel reports the clock synchronized 5 minutes on: the 50
	// minutes off are credited to what was recorded before.
	e.clock.Advance(5 * time.Minute)
	sf.v.Store(true)
	r.Sweep()
	if n1, n3 := frags(t, r, "cam1"), frags(t, r, "cam3"); n1 != 30 || n3 != 1 {
		t.Fatalf("real t0+56m: cam1 %d (want 30), cam3 %d (want 1)", n1, n3)
	}
	e.clock.Advance(5 * time.Minute) // real t0+61m
	r.Sweep()
	if n1, n3 := frags(t, r, "cam1"), frags(t, r, "cam3"); n1 != 0 || n3 != 1 {
		t.Fatalf("real t0+61m: cam1 %d (want 0), cam3 %d (want 1: recorded 10 min ago)", n1, n3)
	}
	// cam3's hold: 90 min from its placement, real time.
	e.clock.Set(st.Add(85 * time.Minute))
	r.Sweep()
	if n := frags(t, r, "cam3"); n != 1 {
		t.Fatalf("a hold placed after the reboot lapsed early (the credit moved it): cam3 %d", n)
	}
}

// Without a synchronized clock (an appliance without NTP), the downtime is
// credited once the wall clock has run an hour without a step.
func TestRebootCreditWithoutNTP(t *testing.T) {
	e, o, r, _ := rebootRig(t)
	real := t0.Add(30*time.Second + 3*time.Hour)
	r = rebootAt(t, e, &o, r, 3*time.Hour, real)
	r.Sweep()
	if n := frags(t, r, "cam1"); n != 30 {
		t.Fatalf("erased at once after a reboot with an unconfirmed clock: cam1 %d", n)
	}
	// A restart on the same boot keeps the downtime pending.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Minute)
	r = mustOpen(t, o)
	t.Cleanup(func() { r.Close() })
	r.Sweep()
	if n := frags(t, r, "cam1"); n != 30 {
		t.Fatalf("cam1 %d fragments 30 min after boot", n)
	}
	e.clock.Advance(31 * time.Minute)
	r.Sweep()
	if n := frags(t, r, "cam1"); n != 0 {
		t.Fatalf("an hour of steady clock after the reboot: cam1 %d fragments; want 0 (3 h off, retention 1 h)", n)
	}
}

// A flat RTC boots the appliance in the year 2000 and nobody corrects it
// for a while: what it records then is stamped 2000, yet it is the newest
// footage. Overwriting goes by recording order (ring time), so the wrap
// takes the footage recorded before the reboot, not what was just recorded.
func TestWrapAfterRebootWithClockBehindKeepsNewest(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 60, fragSize) // 10 of 16 blocks
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	r = rebootAt(t, e, &o, r, time.Minute, y2k)
	id, _ = r.AppendInit("cam1", initFor("cam1"))
	// 60 more fragments stamped from 2000: the ring wraps.
	for i := range 60 {
		e.clock.Advance(time.Second)
		if err := r.AppendFragment(Fragment{Camera: "cam1", Start: e.clock.Now(), Duration: time.Second,
			Keyframe: true, InitID: id, Payload: payloadFor("cam1", 1000+i, fragSize)}); err != nil {
			t.Fatalf("append %d after the reboot: %v", i, err)
		}
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	n := countFrags(t, r, "cam1", y2k, y2k.Add(time.Hour))
	if n < 54 {
		t.Fatalf("of the 60 fragments recorded since the reboot (stamped 2000) %d remain: the wrap erased the newest footage", n)
	}
	if old := countFrags(t, r, "cam1", t0, t0.Add(time.Hour)); old >= 60 {
		t.Fatalf("the wrap erased nothing recorded before the reboot (%d of 60 remain)", old)
	}
}

// Someone sets the clock a day back by mistake; the appliance reboots and
// comes up with the right time. The downtime credited is the 5 minutes it
// was off, not those plus the day the clock was wrong before the reboot.
func TestRebootAfterMistakenStepBackCreditsOnlyDowntime(t *testing.T) {
	e, o, r, sf := rebootRig(t)
	e.clock.Step(-24 * time.Hour)
	r.Sweep() // the step is seen
	sf.v.Store(true)
	real := t0.Add(30*time.Second + 5*time.Minute)
	r = rebootAt(t, e, &o, r, 5*time.Minute, real)
	r.Sweep()
	if n := frags(t, r, "cam1"); n != 30 {
		t.Fatalf("5 minutes of downtime erased footage with an hour's retention: cam1 %d of 30", n)
	}
}
