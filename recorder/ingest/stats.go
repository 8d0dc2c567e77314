package ingest

import (
	"sync"
	"sync/atomic"
	"time"

	"mimamori/core"
)

// rateWindow is how far back fps and bitrate look.
const rateWindow = 5 * time.Second

const rateBuckets = 8 // one per second; more than rateWindow

// stats is a camera's live counters. Counters are atomics; the few strings
// and the rate window sit behind one mutex touched once per frame.
type stats struct {
	reconnects      atomic.Uint64
	clockJumps      atomic.Uint64
	discontinuities atomic.Uint64
	dropped         atomic.Uint64
	decodeErrors    atomic.Uint64
	writeErrors     atomic.Uint64
	packetsLost     atomic.Uint64
	invalid         atomic.Uint64 // payloads or access units that do not parse
	oversize        atomic.Uint64
	missingParams   atomic.Uint64
	ssrcChanges     atomic.Uint64
	frames          atomic.Uint64
	bytes           atomic.Uint64
	connected       atomic.Bool

	mu        sync.Mutex
	state     string
	codec     string
	width     int
	height    int
	lastError string
	lastFrame time.Time
	lastMono  time.Duration // lastFrame's arrival on the monotonic clock
	winStart  time.Duration
	winInit   bool
	buckets   [rateBuckets]bucket
}

type bucket struct {
	sec    int64
	frames int64
	bytes  int64
	faults int64 // invalid payloads, oversize units, missing parameter sets
}

func (s *stats) setState(st string) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

func (s *stats) setError(err error) {
	s.mu.Lock()
	s.lastError = err.Error()
	s.mu.Unlock()
}

func (s *stats) setCodec(codec string, w, h int) {
	s.mu.Lock()
	s.codec, s.width, s.height = codec, w, h
	s.mu.Unlock()
}

// frame counts one stored access unit of size bytes at monotonic time mono.
func (s *stats) frame(wall time.Time, size int, mono time.Duration) {
	s.frames.Add(1)
	s.bytes.Add(uint64(size))
	sec := int64(mono / time.Second)
	s.mu.Lock()
	s.lastFrame, s.lastMono = wall, mono
	if !s.winInit {
		s.winInit, s.winStart = true, mono
	}
	b := &s.buckets[sec%rateBuckets]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	b.frames++
	b.bytes += int64(size)
	s.mu.Unlock()
}

// fault counts one access unit lost to a stream fault that makes the
// stream unrecordable (not packet loss) at monotonic time mono, with err
// as the reason shown in health.
func (s *stats) fault(mono time.Duration, err error) {
	sec := int64(mono / time.Second)
	s.mu.Lock()
	s.lastError = err.Error()
	if !s.winInit {
		s.winInit, s.winStart = true, mono
	}
	b := &s.buckets[sec%rateBuckets]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	b.faults++
	s.mu.Unlock()
}

// recent is the stored frames and faults of the last rateWindow.
func (s *stats) recent(mono time.Duration) (frames, faults int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fromSec := int64((mono - rateWindow) / time.Second)
	nowSec := int64(mono / time.Second)
	for _, b := range s.buckets {
		if b.sec > fromSec && b.sec <= nowSec {
			frames += b.frames
			faults += b.faults
		}
	}
	return frames, faults
}

// resetRate restarts the rate window (a new connection).
func (s *stats) resetRate() {
	s.mu.Lock()
	s.winInit = false
	s.buckets = [rateBuckets]bucket{}
	s.mu.Unlock()
}

func (s *stats) snapshot(camera string, mono time.Duration) core.CameraStats {
	cs := core.CameraStats{
		Camera:          camera,
		Connected:       s.connected.Load(),
		Reconnects:      s.reconnects.Load(),
		ClockJumps:      s.clockJumps.Load(),
		Discontinuities: s.discontinuities.Load(),
		DroppedFrames:   s.dropped.Load(),
		PacketsLost:     s.packetsLost.Load(),
		InvalidPayloads: s.invalid.Load(),
		OversizeUnits:   s.oversize.Load(),
		MissingParams:   s.missingParams.Load(),
		SSRCChanges:     s.ssrcChanges.Load(),
		FramesReceived:  s.frames.Load(),
		BytesReceived:   s.bytes.Load(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs.State, cs.Codec, cs.Width, cs.Height = s.state, s.codec, s.width, s.height
	cs.LastError, cs.LastFrame = s.lastError, s.lastFrame
	if !s.lastFrame.IsZero() {
		cs.SinceLastFrame = max(mono-s.lastMono, 0)
	}
	if !s.winInit || !cs.Connected {
		return cs
	}
	from := max(s.winStart, mono-rateWindow)
	span := mono - from
	if span < 100*time.Millisecond {
		return cs
	}
	fromSec := int64(from / time.Second)
	nowSec := int64(mono / time.Second)
	var frames, bytes int64
	for _, b := range s.buckets {
		if b.sec >= fromSec && b.sec <= nowSec {
			frames += b.frames
			bytes += b.bytes
		}
	}
	// Buckets are whole seconds: the oldest one counts from its edge.
	span = mono - max(s.winStart, time.Duration(fromSec)*time.Second)
	cs.FPS = float64(frames) / span.Seconds()
	cs.BitrateBps = float64(bytes*8) / span.Seconds()
	return cs
}
