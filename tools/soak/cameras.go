package main

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"mimamori/core"
	"mimamori/recorder/ring"
)

// Camera behaviour. A healthy camera sends a keyframe every second (a
// one-second GOP) and the recorder cuts a fragment every FragSeconds
// (-fragment-seconds; 1 by default, as ingest does), anchored once per
// connection on the wall clock and advanced by the stream's own
// timestamps, as recorder/ingest does. The soak steps every camera every
// simulated second whatever the fragment length, so what happens per
// GOP happens as often with any fragment length. Two cameras misbehave
// for a week each, producing exactly the events ingest produces for them:
//
//   - backwards: the stream's timestamps go backwards at every GOP;
//     ingest re-anchors, flags the fragment and sends a "discontinuity"
//     event (reason timestamp-backwards) every GOP — every second;
//   - noblock: every fragment is larger than a ring block, so the ring
//     refuses it (ErrTooLarge) and ingest sends a "write-error" event for
//     every fragment. This camera's refused fragments are one second
//     each whatever -fragment-seconds is (they cost the index nothing),
//     so it sends a write-error every second, as with 1-s fragments.
type fault int

const (
	faultNone fault = iota
	faultBackwards
	faultNoBlock
)

type simCamera struct {
	id       string
	initID   uint32
	anchored bool      // the timeline has an anchor on the wall clock
	up       bool      // this connection's first frame was written (camera-up sent)
	next     time.Time // start of the next fragment (the stream's timeline)
	disc     bool      // flag the next fragment as a discontinuity
	pending  int       // seconds of footage since next, not yet cut into a fragment
	stepped  bool      // re-anchoring after a clock step: flag the new timeline's first fragment
	fault    fault
	written  uint64
	refused  uint64
}

// recorder writes every camera's fragments into the ring and sends
// ingest's events to core.
type recorder struct {
	w        *world
	cams     []*simCamera
	init     []byte
	payload  [][]byte // payload[k]: a fragment of k seconds, the scaled size
	fragSecs int
	tooLarge []byte // a fragment no block can hold
	events   atomic.Uint64
	parallel int
}

// connect is what ingest does when a session starts: the init segment
// (the ring dedups it), and at the first frame camera-up.
func (r *recorder) connect() error {
	for _, c := range r.cams {
		id, err := r.w.rg.AppendInit(c.id, r.init)
		if err != nil {
			return err
		}
		c.initID = id
		// A fragment not yet cut died with the process.
		c.anchored, c.up, c.pending = false, false, 0
	}
	return nil
}

// clockStepped: every camera re-anchors on the wall clock at its next
// keyframe (ingest.Options.ClockSteps); the ring ledgers the step once.
func (r *recorder) clockStepped() {
	for _, c := range r.cams {
		if c.anchored {
			c.anchored = false
			c.stepped = true
		}
	}
}

// second writes the fragment each camera finished during the second
// that ended at now, the cameras split over parallel goroutines (in
// serve every camera has its own).
func (r *recorder) second(now time.Time) error {
	if r.parallel <= 1 {
		for _, c := range r.cams {
			if err := r.write(c, now); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, r.parallel)
	var wg sync.WaitGroup
	for g := range r.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(r.cams); i += r.parallel {
				if err := r.write(r.cams[i], now); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// write is one second of a camera's stream: the GOP that ended at now.
func (r *recorder) write(c *simCamera, now time.Time) error {
	if !c.anchored {
		// Re-anchoring cuts what came before (on the old timeline); the
		// new timeline starts at the frame's arrival, a second ago.
		if err := r.cut(c); err != nil {
			return err
		}
		if c.stepped {
			c.disc, c.stepped = true, false
		}
		c.next = now.Add(-time.Second)
		c.anchored = true
	}
	if !c.up {
		c.up = true
		r.event(c.id, "camera-up", now, map[string]string{"codec": "H264"})
	}
	switch c.fault {
	case faultBackwards:
		// The GOP's timestamps went back: a new anchor on the wall
		// clock, clamped to the end of the last fragment.
		r.event(c.id, "discontinuity", now, map[string]string{"reason": "timestamp-backwards", "delta": "-2s"})
		c.disc = true
	case faultNoBlock:
		if err := r.cut(c); err != nil {
			return err
		}
		start := c.next
		err := r.w.rg.AppendFragment(ring.Fragment{Camera: c.id, Start: start, Duration: time.Second,
			Keyframe: true, InitID: c.initID, Payload: r.tooLarge})
		if err == nil {
			return errors.New("soak: the ring took a fragment larger than a block")
		}
		c.refused++
		c.disc = true // the timeline has a hole where the lost fragment was
		r.event(c.id, "write-error", now, map[string]string{"error": err.Error()})
		c.next = start.Add(time.Second)
		return nil
	}
	c.pending++
	if c.pending < r.fragSecs {
		return nil
	}
	return r.cut(c)
}

// cut writes the camera's pending seconds as one fragment.
func (r *recorder) cut(c *simCamera) error {
	if c.pending == 0 {
		return nil
	}
	d := time.Duration(c.pending) * time.Second
	err := r.w.rg.AppendFragment(ring.Fragment{Camera: c.id, Start: c.next, Duration: d,
		Keyframe: true, Discontinuity: c.disc, InitID: c.initID, Payload: r.payload[c.pending]})
	if err != nil {
		return err
	}
	c.disc = false
	c.written++
	c.next = c.next.Add(d)
	c.pending = 0
	return nil
}

func (r *recorder) event(cam, kind string, at time.Time, details map[string]string) {
	r.events.Add(1)
	_ = r.w.st.RecordEvent(core.RecordingEvent{Camera: cam, Kind: kind, At: at.UTC(), Details: details})
}
