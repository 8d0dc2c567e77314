package recorder

import (
	"sync"
	"time"

	"mimamori/recorder/ingest"
)

// LiveFragment is one fragment just written to the ring, as live viewers
// get it.
type LiveFragment struct {
	Camera        string
	Start         time.Time
	Duration      time.Duration
	Keyframe      bool
	Discontinuity bool
	InitID        uint32
	Payload       []byte // shared by every subscriber: read only
}

// Live fans out the fragments the recorder writes to live viewers.
// Publishing never blocks recording: a subscriber that falls a whole
// buffer behind is dropped (its channel closed, Lagged true) rather than
// waited for.
type Live struct {
	mu   sync.Mutex
	subs map[string]map[*LiveSub]struct{}
}

// NewLive returns an empty fan-out.
func NewLive() *Live { return &Live{subs: map[string]map[*LiveSub]struct{}{}} }

// LiveSub is one subscription to one camera's fragments.
type LiveSub struct {
	l      *Live
	camera string
	ch     chan LiveFragment
	lagged bool // guarded by l.mu
}

// DefaultLiveBuffer is the subscription buffer in fragments (about one
// second each).
const DefaultLiveBuffer = 16

// Subscribe starts delivering camera's fragments written from now on.
// buffer <= 0 means DefaultLiveBuffer. Call Close when done.
func (l *Live) Subscribe(camera string, buffer int) *LiveSub {
	if buffer <= 0 {
		buffer = DefaultLiveBuffer
	}
	s := &LiveSub{l: l, camera: camera, ch: make(chan LiveFragment, buffer)}
	l.mu.Lock()
	defer l.mu.Unlock()
	set := l.subs[camera]
	if set == nil {
		set = map[*LiveSub]struct{}{}
		l.subs[camera] = set
	}
	set[s] = struct{}{}
	return s
}

// Fragments delivers the fragments in order. It is closed by Close or when
// the subscriber fell behind (see Lagged).
func (s *LiveSub) Fragments() <-chan LiveFragment { return s.ch }

// Lagged reports whether the subscription was dropped for falling behind.
func (s *LiveSub) Lagged() bool {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.lagged
}

// Close ends the subscription. Safe to call more than once.
func (s *LiveSub) Close() {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.l.removeLocked(s)
}

// removeLocked drops s and closes its channel; only the call that removes
// s from the map closes, so the channel is closed exactly once.
func (l *Live) removeLocked(s *LiveSub) {
	set := l.subs[s.camera]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(l.subs, s.camera)
	}
	close(s.ch)
}

// Subscribers is the number of open subscriptions to camera.
func (l *Live) Subscribers(camera string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs[camera])
}

// Publish hands f to every subscriber of f.Camera without blocking.
func (l *Live) Publish(f LiveFragment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs[f.Camera] {
		select {
		case s.ch <- f:
		default:
			s.lagged = true
			l.removeLocked(s)
		}
	}
}

// Live is the fan-out of fragments as they are recorded, for live view.
func (r *Recorder) Live() *Live { return r.live }

// publishLive hands a fragment being recorded to live viewers.
func (s ringSink) publishLive(f ingest.Fragment) {
	if s.live == nil {
		return
	}
	s.live.Publish(LiveFragment{Camera: f.Camera, Start: f.Start, Duration: f.Duration, Keyframe: f.Keyframe,
		Discontinuity: f.Discontinuity, InitID: f.InitID, Payload: f.Payload})
}
