package ring

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

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
// off, so ring time advances by the wall-clock gap (never backwards); a
// wall clock set wrong while powered off is indistinguishable from real
// downtime (docs/design.md, "Time").

// stepThreshold is the smallest wall-clock step reported. NTP slews the
// wall and monotonic clocks alike, so wall−monotonic only changes by steps.
const stepThreshold = 2 * time.Second

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
}

// clockState is what index.db keeps (meta "clock"): ring time, trusted
// wall and the two raw clocks at the last index commit.
type clockState struct {
	E      int64
	TW     int64
	Wall   int64
	Mono   int64
	BootID string
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
func newRingClock(wall func() time.Time, mono func() time.Duration, bootID string, saved *clockState) *ringClock {
	c := &ringClock{wall: wall, mono: mono, bootID: bootID}
	w, m := wall(), mono()
	c.mBase, c.skew = m, time.Duration(w.UnixNano())-m
	switch {
	case saved == nil:
		c.eBase, c.twBase = 0, w.UnixNano()
	case saved.BootID == bootID && bootID != "" && int64(m) >= saved.Mono:
		// Same boot: the monotonic clock measured the downtime exactly.
		el := int64(m) - saved.Mono
		c.eBase, c.twBase = saved.E+el, saved.TW+el
		if step := time.Duration(w.UnixNano()-saved.Wall) - time.Duration(el); step >= stepThreshold || step <= -stepThreshold {
			c.noteStep(w, step)
		}
	default:
		// A reboot: only the wall clock saw the gap. Never go backwards.
		gap := max(w.UnixNano()-saved.Wall, 0)
		c.eBase, c.twBase = saved.E+gap, w.UnixNano()
	}
	return c
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
	return clockState{E: c.eBase + el, TW: c.twBase + el, Wall: w.UnixNano(), Mono: int64(m), BootID: c.bootID}
}
