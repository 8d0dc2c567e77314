package ingest

import (
	"sync/atomic"
	"time"
)

// When is a camera stalled? When no frame has come for StallTimeout — or,
// for a camera slower than that (a time-lapse camera sending a picture
// every 10 s), for stallFactor of its own frame interval: a fixed timeout
// would reconnect it before every frame and it would never record.
//
// The interval is learnt from the gaps between frames as they arrive (it
// follows a longer gap at once and a shorter one slowly, so a brief
// freeze of a fast camera widens the window only for a moment) and kept
// across reconnections. Until a camera has shown two frames there is no
// interval to go by: each connection that stalls before that doubles the
// wait for the next one (patience), so a slow camera never seen before is
// caught within a few attempts, and a dead one is retried less often.
const (
	stallFactor = 3
	// maxStallWindow caps what the camera's pace can make the window:
	// a camera slower than a picture every 100 s needs stall_timeout.
	maxStallWindow = 5 * time.Minute
	// maxPatience caps the doubling wait for a camera's first two
	// frames: it is also how long a connection that never sends is kept
	// before the next try.
	maxPatience = 2 * time.Minute
)

// stallClock is one camera's learnt pace (Camera.stall).
type stallClock struct {
	base     time.Duration // Options.StallTimeout
	interval atomic.Int64  // learnt frame interval (0: not known)
	patience atomic.Int64  // wait for a frame while the interval is unknown
}

// window is how long the camera may send nothing before it is stalled.
func (s *stallClock) window() time.Duration {
	w := max(s.base, stallFactor*time.Duration(s.interval.Load()), time.Duration(s.patience.Load()))
	return min(w, max(maxStallWindow, s.base))
}

// frameGap notes the time between two frames of one connection.
func (s *stallClock) frameGap(gap time.Duration) {
	iv := time.Duration(s.interval.Load())
	if gap > iv {
		iv = gap
	} else {
		iv -= (iv - gap) / 8
	}
	s.interval.Store(int64(iv))
	s.patience.Store(0) // the stream's own pace decides from now on
}

// stalledUnknown notes a connection that stalled before its second
// frame: the next one waits twice as long.
func (s *stallClock) stalledUnknown() {
	p := max(time.Duration(s.patience.Load()), s.base)
	s.patience.Store(int64(min(2*p, max(maxPatience, s.base))))
}
