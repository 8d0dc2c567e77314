// Package ingest records one RTSP camera into fMP4 fragments.
//
// A Camera connects with gortsplib, takes the first H.264 or H.265 media,
// turns RTP into access units and cuts them, unchanged, into fragments of at
// most Options.MaxFragment. Fragments and init segments go to a Sink (the
// ring); things worth a ledger entry go to an EventSink. Run supervises the
// connection and reconnects with backoff until its context ends.
//
// What is stored: every access unit from the first IDR on, with all its NAL
// units as gortsplib's rtph264/rtph265 decoders return them, in AVCC form.
// The decoders (v4.16.2) strip nothing: AUD, SEI, SPS/PPS/VPS and filler
// pass through. They only re-frame: STAP-A/AP and FU-A/FU are undone, an
// Annex-B stream wrapped inside RTP has its start codes removed, and STAP-A
// zero padding is discarded. They refuse access units of more than 8 MiB
// or more than 25 (H.264) / 21 (H.265) NAL units, counted as decode
// errors; the fragmenter applies the same limits to whatever it is fed.
// Empty NAL units are not stored (AVCC cannot carry them back).
// Access units with an illegal NAL header (forbidden_zero_bit, H.264
// SPS/PPS/IDR with nal_ref_idc 0) or an in-band SPS/PPS that does not parse
// are dropped as corrupt, so garbage never replaces the init.
//
// Time: once per connection, wall = Now() is taken at the first frame; a
// frame's wall time is that anchor plus its DTS offset. A timestamp jump
// (PTS back by more than 1 s or forward by more than 5 s) starts a new
// anchor and flags a discontinuity. A wall-clock step (Options.ClockSteps,
// the ring's one detector) re-anchors at the next keyframe, so footage
// follows a corrected clock without waiting for a reconnect. There is no
// drift correction: over a long connection footage time follows the
// camera's clock (about 20 ppm); each reconnection re-anchors. An anchor
// before the end of the last fragment is clamped to it (reconnect jitter,
// a fast camera clock) unless a step was detected in between: then the
// timeline follows the corrected clock. fMP4 tfdt is the fragment's wall
// start in 90 kHz ticks since the Unix epoch.
package ingest

import (
	"errors"
	"log/slog"
	"time"

	"mimamori/core"
)

// Options configures one camera's ingest.
type Options struct {
	Camera    string
	URL       string // rtsp://user:pass@host/path; credentials go to basic/digest auth
	Transport string // "tcp" (default) or "udp"
	Sink      Sink
	Events    EventSink // may be nil
	Now       func() time.Time
	Mono      func() time.Duration // monotonic clock; never steps
	// ClockSteps counts the wall-clock steps detected so far (the ring's
	// detector; nil: none). After a step the timeline re-anchors on the
	// wall clock at the next keyframe.
	ClockSteps   func() uint64
	Logger       *slog.Logger
	StallTimeout time.Duration // no frame for this long: reconnect (5 s)
	MaxFragment  time.Duration // longest fragment (1 s)
	BackoffMin   time.Duration // pause before a reconnect (0.5 s); see Camera.Run
	BackoffMax   time.Duration // longest pause after refused credentials (30 s)
}

// Sink receives what a camera records. Calls come from one goroutine per
// camera, in order; an init precedes every fragment that names its id.
// Neither the init nor the fragment bytes may be kept after the call
// returns (copy them).
type Sink interface {
	WriteInit(camera string, init []byte) (initID uint32, err error)
	WriteFragment(f Fragment) error
}

// ErrInitUnknown is what a Sink's WriteFragment returns (wrapped) when it
// no longer knows the fragment's init id (the store dropped it): the
// fragmenter then writes its init again before the next fragment.
var ErrInitUnknown = errors.New("ingest: sink does not know the init segment")

// Fragment is one fMP4 fragment (moof+mdat) of one camera. Its fields match
// recorder/ring.Fragment.
type Fragment struct {
	Camera        string
	Start         time.Time     // UTC wall time of the first sample
	Duration      time.Duration // sum of the sample durations
	Keyframe      bool          // the first sample is a random access point
	Discontinuity bool          // timeline break before it: reconnect, timestamp jump, frames dropped, or a lost fragment
	InitID        uint32        // the init segment these samples need
	// The fragment's bytes (moof+mdat, samples in AVCC form) are Payload
	// followed by the pieces of Body; the fragmenter puts the moof and
	// mdat header in Payload and the mdat body, straight from its buffer
	// chunks, in Body. All are reused once WriteFragment returns: a sink
	// that keeps the bytes must copy them (Bytes).
	Payload []byte
	Body    [][]byte
}

// Len is the fragment's size in bytes.
func (f Fragment) Len() int {
	n := len(f.Payload)
	for _, b := range f.Body {
		n += len(b)
	}
	return n
}

// Bytes returns the whole fragment, Payload then Body, in a new slice.
func (f Fragment) Bytes() []byte {
	b := append(make([]byte, 0, f.Len()), f.Payload...)
	for _, p := range f.Body {
		b = append(b, p...)
	}
	return b
}

// EventSink receives recording events for the ledger.
type EventSink interface {
	RecordEvent(core.RecordingEvent) error
}

// Defaults applied by New to zero Options fields.
const (
	DefaultStallTimeout = 5 * time.Second
	DefaultMaxFragment  = time.Second
	DefaultBackoffMin   = 500 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second

	// MaxAccessUnitSize is the largest access unit stored; bigger ones are
	// dropped (and counted) rather than buffered.
	MaxAccessUnitSize = 8 << 20

	// healthyAfter is how long a connection must record before the
	// backoff for lasting failures starts again from BackoffMin.
	healthyAfter = time.Minute
)

// Event kinds (core.RecordingEvent.Kind). A point event happened once; a
// state has a start kind and exactly one end kind, and ingest always sends
// the end (also when the connection or the process stops). Stream faults
// (packet-loss, oversize-nal, invalid-payload, ssrc-change) are sent only
// when they interrupt recording: at most once per keyframe interval, the
// rest are counted in CameraStats.
const (
	// EventDiscontinuity (point): the timeline breaks for a reason in
	// details (timestamp jump, DTS error, too many NAL units, clamp).
	EventDiscontinuity = "discontinuity"
	// EventClockJump (point): no longer sent by ingest — the ring ledgers
	// each wall-clock step once ("clock-step"); ingest counts the
	// re-anchors in CameraStats.ClockJumps. Kept for old ledger entries.
	EventClockJump = "clock-jump"
	// EventCameraDown (state, ended by EventCameraUp): a connection that
	// had recorded ended; details: error.
	EventCameraDown = "camera-down"
	// EventCameraUp (end of camera-down; also sent at the first frame of
	// every connection): recording (re)started; details: codec.
	EventCameraUp = "camera-up"
	// EventWriteError (point): the sink refused a fragment or init.
	EventWriteError = "write-error"
	// EventPacketLoss (point): RTP packets were lost; recording waits for
	// the next keyframe. Details: lost (packets).
	EventPacketLoss = "packet-loss"
	// EventOversizeNAL (point): an access unit or NAL unit over
	// MaxAccessUnitSize was dropped; recording waits for the next
	// keyframe. Details: bytes (when known), error.
	EventOversizeNAL = "oversize-nal"
	// EventInvalidPayload (point): a payload that does not parse
	// interrupted recording. Details: error.
	EventInvalidPayload = "invalid-payload"
	// EventSSRCChange (point): the camera restarted its RTP source; it is
	// followed on the same connection (TCP) or by an immediate reconnect
	// (UDP). Details: from, to (hex SSRCs), followed.
	EventSSRCChange = "ssrc-change"
	// EventStreamInvalid (state, ended by EventStreamInvalidEnd): the
	// camera is connected but what it sends cannot be recorded (payloads
	// that do not parse, no parameter sets, oversize units). Details:
	// reason, and the fault counters at the start.
	EventStreamInvalid = "stream-invalid"
	// EventStreamInvalidEnd (end of stream-invalid): frames are recorded
	// again, or the connection ended. Details: lasted, why.
	EventStreamInvalidEnd = "stream-invalid-end"
)

// Camera states (core.CameraStats.State).
const (
	StateConnecting = "connecting"
	StateRecording  = "recording"
	StateStalled    = "stalled"
	StateError      = "error"
	StateStopped    = "stopped"
	// StateStreamInvalid: connected, packets arrive, but they cannot be
	// recorded; LastError says why.
	StateStreamInvalid = "stream-invalid"
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
