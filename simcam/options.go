package simcam

import (
	"io"
	"log/slog"
	"time"
)

// Options configure a Server. Listen, Cameras and Codec are what
// `mimamori simcam --listen ADDR --cameras N --codec C --bitrate B` sets.
type Options struct {
	Listen  string // RTSP TCP address, e.g. "127.0.0.1:8554" or "127.0.0.1:0"
	Cameras int    // cameras cam1..camN, at least 1
	Codec   string // "h264" (default when empty) or "h265"
	Bitrate int64  // bits per second of NAL unit bytes; 0 = the clip as is (~0.8 Mbit/s)
	Logger  *slog.Logger

	// User and Pass, when User is set, make every camera require these
	// credentials (basic or digest); wrong or missing ones get 401.
	User string
	Pass string

	// UDPRTPAddress and UDPRTCPAddress enable RTSP over UDP when both are set
	// (e.g. ":8000" and ":8001"; the RTP port even, RTCP = RTP+1).
	// TCP (interleaved) always works.
	UDPRTPAddress  string
	UDPRTCPAddress string

	// Faults injects misbehaviour per camera index (1-based), for tests.
	Faults map[int]Fault

	// Out receives the URL list printed by Run; nil means os.Stdout.
	Out io.Writer
}

// Fault makes one camera misbehave.
type Fault struct {
	// GarbageRTP replaces every access unit by 1-4 RTP packets of random
	// bytes (valid RTP headers, the SDP still announces valid parameters).
	GarbageRTP bool
	// HugeNALU > 0 appends a filler NAL unit of this many bytes to every IDR
	// access unit (or every HugeNALUEvery-th one).
	HugeNALU int
	// HugeNALUEvery > 1 puts the HugeNALU filler only on every N-th IDR of
	// the loop (the first IDR is never one), so the camera is recordable
	// between them.
	HugeNALUEvery int
	// NoSPS strips the parameter sets (VPS/SPS/PPS) from both the SDP and the
	// stream, so the stream can never be decoded.
	NoSPS bool
	// BackwardsTimestamps moves the RTP clock back by BackwardsStep at every
	// IDR after the first, so each GOP starts earlier than the previous one ended.
	BackwardsTimestamps bool
	// DropPacketEvery > 0 loses every N-th RTP packet: its sequence number
	// is used but the packet is never sent, as on a lossy network.
	DropPacketEvery int
	// SSRCChangeEvery > 0 restarts the camera's RTP source at every N-th
	// IDR: a new SSRC, sequence number and timestamp base, as an encoder
	// restart does. Over TCP only (the SSRC is rewritten in the
	// interleaved frames; gortsplib keeps one SSRC per stream).
	SSRCChangeEvery int
	// BitrateFactor > 1 multiplies the camera's bitrate (Options.Bitrate, or
	// the clip's own rate when that is 0).
	BitrateFactor int
	// FrameInterval > 0 makes a time-lapse camera: one picture every
	// FrameInterval (at the pacer's 40 ms resolution), each a keyframe
	// of the clip, its RTP timestamp on the wall clock.
	FrameInterval time.Duration
}

// BackwardsStep is how far Fault.BackwardsTimestamps moves the RTP clock back
// at each IDR.
const BackwardsStep = 5 * FrameDuration * 25 // 5 s
