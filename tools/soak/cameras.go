package main

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"mimamori/core"
	"mimamori/recorder/ring"
)

// Camera behaviour. A healthy camera sends one keyframe-led fragment a
// second, anchored once per connection on the wall clock and advanced by
// its own timestamps, as recorder/ingest does. Two cameras misbehave for
// a week each, producing exactly the events ingest produces for them:
//
//   - backwards: the stream's timestamps go backwards at every GOP;
//     ingest re-anchors, flags the fragment and sends a "discontinuity"
//     event (reason timestamp-backwards) every GOP;
//   - noblock: every fragment is larger than a ring block, so the ring
//     refuses it (ErrTooLarge) and ingest sends a "write-error" event for
//     every fragment: the camera can get no block for a week.
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
	payload  []byte // one fragment, the scaled size
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
		c.anchored, c.up = false, false
	}
	return nil
}

// clockStepped: every camera re-anchors on the wall clock at its next
// keyframe (ingest.Options.ClockSteps); the ring ledgers the step once.
func (r *recorder) clockStepped() {
	for _, c := range r.cams {
		if c.anchored {
			c.anchored = false
			c.disc = true
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

func (r *recorder) write(c *simCamera, now time.Time) error {
	if !c.anchored {
		// The timeline starts at the frame's arrival, a second ago.
		c.next = now.Add(-time.Second)
		c.anchored = true
	}
	if !c.up {
		c.up = true
		r.event(c.id, "camera-up", now, map[string]string{"codec": "H264"})
	}
	start := c.next
	switch c.fault {
	case faultBackwards:
		// The GOP's timestamps went back: a new anchor on the wall
		// clock, clamped to the end of the last fragment.
		r.event(c.id, "discontinuity", now, map[string]string{"reason": "timestamp-backwards", "delta": "-2s"})
		c.disc = true
	case faultNoBlock:
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
	err := r.w.rg.AppendFragment(ring.Fragment{Camera: c.id, Start: start, Duration: time.Second,
		Keyframe: true, Discontinuity: c.disc, InitID: c.initID, Payload: r.payload})
	if err != nil {
		return err
	}
	c.disc = false
	c.written++
	c.next = start.Add(time.Second)
	return nil
}

func (r *recorder) event(cam, kind string, at time.Time, details map[string]string) {
	r.events.Add(1)
	_ = r.w.st.RecordEvent(core.RecordingEvent{Camera: cam, Kind: kind, At: at.UTC(), Details: details})
}
