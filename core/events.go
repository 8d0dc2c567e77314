package core

import (
	"sort"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Recording events as state changes with counts. RecordEvent is called
// by camera goroutines for every event, so it only updates memory under a
// mutex and wakes the writer: it never waits for the disk.
//
// Per camera, the first event when the camera has no open window is
// written at once (the state change) and opens a 10-minute window. Events
// inside the window are only counted, per kind. When the window ends, one
// summary entry is written with the count, first and last time and the
// latest details of each kind, and the state of paired kinds (camera-down
// / camera-up → state.connection); if anything was counted a new window
// starts (so a camera that keeps failing gets one summary per 10 minutes),
// otherwise the camera is quiet again. So a broken camera — timestamps
// going backwards every GOP, or no block to write to, ever — writes at
// most 6 entries an hour, and a healthy one none.
//
// A crash loses the counts of the current window (at most 10 minutes of
// one camera's repeated events); everything else is in the ledger.
//
// Kinds: discontinuity, clock-jump, camera-down, camera-up, write-error,
// and whatever else the recorder reports (new kinds need nothing here;
// kinds that are the two ends of a state go in eventStates).

const (
	eventWindow  = 10 * time.Minute
	eventCameras = 1024 // cameras tracked at once; beyond, they share one window
	eventQueue   = 4096 // entries waiting for the writer; beyond, counted as dropped
	eventDetails = 4    // detail keys kept per kind in a summary
)

// eventStates: kinds that set a state, and which.
var eventStates = map[string][2]string{
	"camera-down": {"connection", "down"},
	"camera-up":   {"connection", "up"},
	// The ring's (recorder/ring/alerts.go); the disk ones are reported
	// with camera "".
	"camera-starved":     {"blocks", "starved"},
	"camera-starved-end": {"blocks", "recording"},
	"disk-stall":         {"disk", "stalled"},
	"disk-stall-end":     {"disk", "responding"},
	"disk-full":          {"space", "full"},
	"disk-full-end":      {"space", "available"},
	// recorder/ingest: a connected camera whose stream cannot be recorded.
	"stream-invalid":     {"stream", "invalid"},
	"stream-invalid-end": {"stream", "valid"},
}

type eventCount struct {
	n           uint64
	first, last time.Time
	details     map[string]string
}

type camEvents struct {
	from, until time.Time // the open window; until is zero when quiet
	kinds       map[string]*eventCount
	state       map[string]string
}

type eventLog struct {
	mu      sync.Mutex
	cams    map[string]*camEvents
	queue   []draft
	dropped uint64
	wake    chan struct{}
}

func (l *eventLog) init() {
	l.cams = map[string]*camEvents{}
	l.wake = make(chan struct{}, 1)
}

func (l *eventLog) push(d draft) {
	if len(l.queue) >= eventQueue {
		l.dropped++
		return
	}
	l.queue = append(l.queue, d)
}

// note takes one event at core time now.
func (l *eventLog) note(ev RecordingEvent, now time.Time) {
	l.mu.Lock()
	cam := ev.Camera
	c := l.cams[cam]
	if c == nil {
		if len(l.cams) >= eventCameras {
			cam = "*"
			c = l.cams[cam]
		}
		if c == nil {
			c = &camEvents{kinds: map[string]*eventCount{}, state: map[string]string{}}
			l.cams[cam] = c
		}
	}
	if st, ok := eventStates[ev.Kind]; ok {
		c.state[st[0]] = st[1]
	}
	queued := false
	if !c.until.IsZero() && c.ended(now) { // the window ended before the ticker saw it
		if len(c.kinds) > 0 {
			l.push(c.summary(cam, now))
			c.from, c.until = now, now.Add(eventWindow)
			queued = true
		} else {
			c.until = time.Time{}
		}
	}
	if !c.until.IsZero() {
		k := c.kinds[ev.Kind]
		if k == nil {
			k = &eventCount{first: ev.At}
			c.kinds[ev.Kind] = k
		}
		k.n++
		k.last = ev.At
		k.details = ev.Details
		l.mu.Unlock()
		if queued {
			l.signal()
		}
		return
	}
	det := make(map[string]string, len(ev.Details)+2)
	for k, v := range ev.Details {
		det[k] = v
	}
	det["kind"], det["at"] = ev.Kind, fmtTime(ev.At)
	l.push(draft{Subject: ev.Camera, Details: det})
	c.from, c.until = now, now.Add(eventWindow)
	clear(c.kinds)
	l.mu.Unlock()
	l.signal()
}

// signal wakes the writer without waiting for it.
func (l *eventLog) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// ended reports whether the open window is over at now: its time is up,
// or it began "after" now — the wall clock was stepped back, and waiting
// for it to catch up would keep the counts unwritten as long as the step.
func (c *camEvents) ended(now time.Time) bool {
	return !now.Before(c.until) || now.Before(c.from)
}

// summary is the entry for a window's counts (caller holds mu), and
// resets them.
func (c *camEvents) summary(cam string, now time.Time) draft {
	det := map[string]string{"kind": "summary", "window_from": fmtTime(c.from), "window_to": fmtTime(now)}
	kinds := make([]string, 0, len(c.kinds))
	for k := range c.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		n := c.kinds[k]
		det[k] = strconv.FormatUint(n.n, 10)
		det[k+".first"], det[k+".last"] = fmtTime(n.first), fmtTime(n.last)
		keys := make([]string, 0, len(n.details))
		for dk := range n.details {
			keys = append(keys, dk)
		}
		sort.Strings(keys)
		for _, dk := range keys[:min(len(keys), eventDetails)] {
			det[k+"."+dk] = n.details[dk]
		}
	}
	for st, v := range c.state {
		det["state."+st] = v
	}
	clear(c.kinds)
	return draft{Subject: cam, Details: det}
}

// due queues the summaries of windows that have ended by now (all of
// them if all), and forgets cameras that have been quiet a whole window.
func (l *eventLog) due(now time.Time, all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for cam, c := range l.cams {
		if c.until.IsZero() || (!all && !c.ended(now)) {
			continue
		}
		if len(c.kinds) == 0 {
			delete(l.cams, cam)
			continue
		}
		l.push(c.summary(cam, now))
		c.from, c.until = now, now.Add(eventWindow)
	}
}

// take empties the queue.
func (l *eventLog) take() ([]draft, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q, d := l.queue, l.dropped
	l.queue, l.dropped = nil, 0
	return q, d
}

// requeue puts back what could not be written (in front, within bounds).
func (l *eventLog) requeue(q []draft, dropped uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := min(len(q), eventQueue)
	l.dropped += dropped + uint64(len(q)-keep)
	rest := l.queue
	l.queue = append(q[:keep:keep], rest...)
	if len(l.queue) > eventQueue {
		l.dropped += uint64(len(l.queue) - eventQueue)
		l.queue = l.queue[:eventQueue]
	}
}

// RecordEvent takes something the recorder noticed (clock jump,
// discontinuity, camera down/up, write error, …). It returns at once; the
// entry is written shortly after, coalesced as described above.
func (s *Store) RecordEvent(ev RecordingEvent) error {
	return s.recordEvent(SystemActor("recorder"), ev)
}

func (s *Store) recordEvent(actor Actor, ev RecordingEvent) error {
	if !Allowed(actor.Role, ActionRecordingEvent) {
		return s.deny(actor, ActionRecordingEvent, ev.Camera)
	}
	if ev.Kind == "" {
		return Invalid("kind", "required")
	}
	s.events.note(ev, s.nowUTC())
	return nil
}

// writeEvents writes the queued event entries in one transaction.
func (s *Store) writeEvents() {
	q, dropped := s.events.take()
	if len(q) == 0 && dropped == 0 {
		return
	}
	drafts := q
	if dropped > 0 {
		drafts = append(drafts[:len(drafts):len(drafts)], draft{Subject: "recorder", Details: map[string]string{
			"kind": "events-dropped", "count": strconv.FormatUint(dropped, 10)}})
	}
	_, err := s.mutate(SystemActor("recorder"), ActionRecordingEvent, "", func(*bolt.Tx) ([]draft, error) { return drafts, nil })
	if err != nil {
		s.log.Error("ledger: cannot record recording events; will retry", "entries", len(q), "err", err)
		s.events.requeue(q, dropped)
	}
}
