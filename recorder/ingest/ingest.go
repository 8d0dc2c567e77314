// Package ingest records one RTSP camera into fMP4 fragments.
//
// A Camera connects with gortsplib, takes the first H.264 or H.265 media,
// turns RTP into access units and cuts them, unchanged, into fragments of at
// most Options.MaxFragment. Fragments and init segments go to a Sink (the
// ring); things worth a ledger entry go to an EventSink. Run supervises the
// connection and reconnects with backoff until its context ends.
package ingest

import (
	"log/slog"
	"time"

	"mimamori/core"
)

// Options configures one camera's ingest.
type Options struct {
	Camera       string
	URL          string // rtsp://user:pass@host/path; credentials go to basic/digest auth
	Transport    string // "tcp" (default) or "udp"
	Sink         Sink
	Events       EventSink // may be nil
	Now          func() time.Time
	Mono         func() time.Duration // monotonic clock; never steps
	Logger       *slog.Logger
	StallTimeout time.Duration // no frame for this long: reconnect (5 s)
	MaxFragment  time.Duration // longest fragment (1 s)
	BackoffMin   time.Duration // first reconnect pause (1 s)
	BackoffMax   time.Duration // longest reconnect pause (30 s)
}

// Sink receives what a camera records. Calls come from one goroutine per
// camera, in order; an init precedes every fragment that names its id.
type Sink interface {
	WriteInit(camera string, init []byte) (initID uint32, err error)
	WriteFragment(f Fragment) error
}

// Fragment is one fMP4 fragment (moof+mdat) of one camera. Its fields match
// recorder/ring.Fragment.
type Fragment struct {
	Camera        string
	Start         time.Time     // UTC wall time of the first sample
	Duration      time.Duration // sum of the sample durations
	Keyframe      bool          // the first sample is a random access point
	Discontinuity bool          // timeline break before this fragment
	InitID        uint32        // the init segment these samples need
	Payload       []byte        // moof+mdat, samples in AVCC form
}

// EventSink receives recording events for the ledger.
type EventSink interface {
	RecordEvent(core.RecordingEvent) error
}

// Defaults applied by New to zero Options fields.
const (
	DefaultStallTimeout = 5 * time.Second
	DefaultMaxFragment  = time.Second
	DefaultBackoffMin   = time.Second
	DefaultBackoffMax   = 30 * time.Second

	// MaxAccessUnitSize is the largest access unit stored; bigger ones are
	// dropped (and counted) rather than buffered.
	MaxAccessUnitSize = 8 << 20

	// healthyAfter is how long a connection must record before the backoff
	// starts again from BackoffMin.
	healthyAfter = time.Minute
)

// Event kinds (core.RecordingEvent.Kind).
const (
	EventDiscontinuity = "discontinuity"
	EventClockJump     = "clock-jump"
	EventCameraDown    = "camera-down"
	EventCameraUp      = "camera-up"
	EventWriteError    = "write-error"
)

// Camera states (core.CameraStats.State).
const (
	StateConnecting = "connecting"
	StateRecording  = "recording"
	StateStalled    = "stalled"
	StateError      = "error"
	StateStopped    = "stopped"
)

func (o *Options) setDefaults() {
	if o.Transport == "" {
		o.Transport = "tcp"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Mono == nil {
		start := time.Now()
		o.Mono = func() time.Duration { return time.Since(start) }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.MaxFragment <= 0 {
		o.MaxFragment = DefaultMaxFragment
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(DefaultBackoffMax, o.BackoffMin)
	}
}
