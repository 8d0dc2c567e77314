package ring

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// The ring's own clock. Retention and hold expiry are reckoned on
// "ring time": nanoseconds of real elapsed time, read from CLOCK_BOOTTIME
// (which no wall-clock step moves and which counts suspend) and carried
// across restarts in index.db. The wall clock only stamps footage and is
// watched for steps; a step is counted, shown in health and ledgered once,
// but never moves ring time, so it can neither erase young footage nor end
// a hold early.
//
// Across a process restart on the same boot, ring time advances by exactly
// the CLOCK_BOOTTIME difference (and a wall step made while stopped is
// detected). Across a reboot nothing measures the time the appliance was
// off but the wall clock, and that is the clock most often wrong at boot
// (a flat RTC battery, an RTC in the wrong zone) until NTP or a person
// corrects it. So the downtime is not credited at boot: ring time goes on
// from where it stopped, and the wall-clock gap is credited later, once
// the kernel reports the clock synchronized or the clock has run
// rebootConfirm without a step — to what was recorded and held before the
// reboot only (Ring.creditDowntime). Until then expiry is late, never
// early (docs/design.md, "Ring time").

// stepThreshold is the smallest wall-clock step reported. NTP slews the
// wall and monotonic clocks alike, so wall−monotonic only changes by steps.
const stepThreshold = 2 * time.Second

// rebootConfirm is how long the wall clock must run without a step before
// a reboot's downtime is credited when the kernel does not report it
// synchronized (an appliance without NTP).
const rebootConfirm = time.Hour

// ClockStep is a detected wall-clock step.
type ClockStep struct {
	At time.Time     // wall time after the step (UTC)
	By time.Duration // positive: the wall clock jumped forward
}

// bootTime is CLOCK_BOOTTIME.
func bootTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Duration(time.Now().UnixNano()) // unreachable on Linux
	}
	return time.Duration(ts.Nano())
}

// kernelClockSynced reports whether the kernel holds the wall clock
// synchronized (what timedatectl shows as "System clock synchronized").
func kernelClockSynced() bool {
	var t unix.Timex
	st, err := unix.Adjtimex(&t)
	return err == nil && st != unix.TIME_ERROR && t.Status&unix.STA_UNSYNC == 0
}

// currentBootID identifies this boot, so a restart can tell whether
// CLOCK_BOOTTIME readings are comparable.
func currentBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

type ringClock struct {
	wall   func() time.Time
	mono   func() time.Duration
	synced func() bool
	bootID string

	mu     sync.Mutex
	eBase  int64         // ring time at mono reading mBase
	mBase  time.Duration // mono at eBase
	twBase int64         // trusted wall (unix ns) at mBase
	skew   time.Duration // wall − mono when last checked (or at the last step)
	steps  uint64
	last   ClockStep
	dirty  bool // a step not yet committed with the clock state
	// pending steps not yet handed to the event log (Run emits them).
	pending []ClockStep
	// credit is a reboot's downtime waiting for a confirmed wall clock.
	credit *pendingCredit
}

// pendingCredit is a reboot's downtime not yet credited: what the wall
// clock says beyond ring time, wall − base − ring time, once confirmed.
type pendingCredit struct {
	base  int64 // wall − ring time (ns) at the last commit before the reboot
	bootE int64 // ring time at the reboot: older stamps get the credit
	since int64 // ring time since which the wall clock has run without a step
}

func (p pendingCredit) encode() []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b[0:], uint64(p.base))
	binary.BigEndian.PutUint64(b[8:], uint64(p.bootE))
	binary.BigEndian.PutUint64(b[16:], uint64(p.since))
	return b
}

func decodePendingCredit(b []byte) (*pendingCredit, error) {
	if len(b) != 24 {
		return nil, fmt.Errorf("%w: pending clock credit of %d bytes", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	return &pendingCredit{base: int64(be.Uint64(b[0:])), bootE: int64(be.Uint64(b[8:])), since: int64(be.Uint64(b[16:]))}, nil
}

// clockState is what index.db keeps (meta "clock"): ring time, trusted
// wall and the two raw clocks at the last index commit; and, under meta
// "clockPending", a reboot's downtime not yet credited.
type clockState struct {
	E      int64
	TW     int64
	Wall   int64
	Mono   int64
	BootID string
	Credit *pendingCredit
}

func (s clockState) encode() []byte {
	b := make([]byte, 32, 32+len(s.BootID))
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(s.E))
	be.PutUint64(b[8:], uint64(s.TW))
	be.PutUint64(b[16:], uint64(s.Wall))
	be.PutUint64(b[24:], uint64(s.Mono))
	return append(b, s.BootID...)
}

// put writes the clock state into bucket meta.
func (s clockState) put(meta *bolt.Bucket) error {
	if err := meta.Put([]byte("clock"), s.encode()); err != nil {
		return err
	}
	if s.Credit == nil {
		return meta.Delete([]byte("clockPending"))
	}
	return meta.Put([]byte("clockPending"), s.Credit.encode())
}

func decodeClockState(b []byte) (clockState, error) {
	if len(b) < 32 {
		return clockState{}, fmt.Errorf("%w: clock state of %d bytes", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	return clockState{
		E: int64(be.Uint64(b[0:])), TW: int64(be.Uint64(b[8:])),
		Wall: int64(be.Uint64(b[16:])), Mono: int64(be.Uint64(b[24:])),
		BootID: string(b[32:]),
	}, nil
}

// newRingClock starts the clock from the persisted state (nil for a new
// ring or one written before ring time existed).
func newRingClock(wall func() time.Time, mono func() time.Duration, synced func() bool, bootID string, saved *clockState) *ringClock {
	c := &ringClock{wall: wall, mono: mono, synced: synced, bootID: bootID}
	w, m := wall(), mono()
	c.mBase, c.skew = m, time.Duration(w.UnixNano())-m
	switch {
	case saved == nil:
		c.eBase, c.twBase = 0, w.UnixNano()
	case saved.BootID == bootID && bootID != "" && int64(m) >= saved.Mono:
		// Same boot: the monotonic clock measured the downtime exactly.
		el := int64(m) - saved.Mono
		c.eBase, c.twBase = saved.E+el, saved.TW+el
		c.credit = saved.Credit
		if step := time.Duration(w.UnixNano()-saved.Wall) - time.Duration(el); step >= stepThreshold || step <= -stepThreshold {
			c.noteStep(w, step)
			if c.credit != nil {
				c.credit.since = c.eBase
			}
		}
	default:
		// A reboot: only the wall clock saw the gap, and it may be wrong
		// now. Ring time goes on from where it stopped; the gap waits for
		// the clock to be confirmed (confirm). A credit still pending from
		// an earlier reboot keeps its base, so neither gap is lost.
		// The gap is measured from the later of the raw and the trusted
		// wall time at the last commit: a step before the reboot, mistaken
		// or a correction, can only make the credit smaller (late expiry),
		// never larger (early).
		c.eBase, c.twBase = saved.E, saved.TW
		p := pendingCredit{base: max(saved.Wall, saved.TW) - saved.E, bootE: saved.E}
		if saved.Credit != nil {
			p = *saved.Credit
		}
		p.since = saved.E
		c.credit = &p
	}
	return c
}

// confirm credits a pending reboot downtime once the wall clock is
// trusted again: the kernel says it is synchronized, or it has run
// rebootConfirm of ring time without a step. It returns the credit (ns,
// never negative) and the ring time of the reboot, whose older stamps it
// applies to.
func (c *ringClock) confirm() (credit, bootE int64, ok bool) {
	c.mu.Lock()
	pending := c.credit != nil
	c.mu.Unlock()
	if !pending {
		return 0, 0, false
	}
	synced := c.synced != nil && c.synced()
	w, m := c.wall(), c.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.credit == nil {
		return 0, 0, false
	}
	now := c.eBase + int64(m-c.mBase)
	if !synced && now-c.credit.since < int64(rebootConfirm) {
		return 0, 0, false
	}
	credit = max(w.UnixNano()-c.credit.base-now, 0)
	bootE = c.credit.bootE
	c.credit = nil
	c.twBase += credit
	c.dirty = true
	return credit, bootE, true
}

// creditPending reports whether a reboot's downtime is waiting.
func (c *ringClock) creditPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.credit != nil
}

// now returns ring time (ns).
func (c *ringClock) now() int64 {
	m := c.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eBase + int64(m-c.mBase)
}

// trustedWall is the wall time the ring believes: the wall clock at start,
// advanced by elapsed time since. It ignores steps made since the start.
func (c *ringClock) trustedWall() time.Time {
	m := c.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Unix(0, c.twBase+int64(m-c.mBase)).UTC()
}

// check compares the wall clock with the monotonic clock and notes a step
// of stepThreshold or more since the last check. It returns the step, if any.
func (c *ringClock) check() (ClockStep, bool) {
	w, m := c.wall(), c.mono()
	skew := time.Duration(w.UnixNano()) - m
	c.mu.Lock()
	defer c.mu.Unlock()
	d := skew - c.skew
	if d < stepThreshold && d > -stepThreshold {
		return ClockStep{}, false
	}
	c.skew = skew
	if c.credit != nil { // the clock was just set: confirm it anew
		c.credit.since = c.eBase + int64(m-c.mBase)
	}
	return c.noteStepLocked(w, d), true
}

func (c *ringClock) noteStep(w time.Time, by time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteStepLocked(w, by)
}

func (c *ringClock) noteStepLocked(w time.Time, by time.Duration) ClockStep {
	s := ClockStep{At: w.UTC(), By: by}
	c.steps++
	c.dirty = true
	c.last = s
	if len(c.pending) < 16 { // Run drains it every tick; a storm of steps is counted, not queued
		c.pending = append(c.pending, s)
	}
	return s
}

func (c *ringClock) takeDirty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirty
	c.dirty = false
	return d
}

func (c *ringClock) markDirty() {
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
}

// takePending returns the steps not yet ledgered.
func (c *ringClock) takePending() []ClockStep {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	c.pending = nil
	return p
}

// offset is wall − trusted wall now: how far the wall clock has been
// stepped away from the ring's time since the start.
func (c *ringClock) offset() time.Duration {
	w, m := c.wall(), c.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Duration(w.UnixNano() - (c.twBase + int64(m-c.mBase)))
}

func (c *ringClock) stats() (uint64, ClockStep) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.steps, c.last
}

// state is what to persist now.
func (c *ringClock) state() clockState {
	w, m := c.wall(), c.mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	el := int64(m - c.mBase)
	st := clockState{E: c.eBase + el, TW: c.twBase + el, Wall: w.UnixNano(), Mono: int64(m), BootID: c.bootID}
	if c.credit != nil {
		p := *c.credit
		st.Credit = &p
	}
	return st
}
