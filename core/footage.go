package core

import (
	"context"
	"time"
)

// This file is the contract between core/ and recorder/. The recorder
// implements Footage; core (and through it the console) only ever sees
// footage through this interface, so tui/ never imports recorder/.

// Footage is what the recorder offers to the rest of the appliance.
type Footage interface {
	// Coverage returns the recorded spans of a camera between from and to,
	// in start order. Gaps between spans are gaps in the recording.
	Coverage(camera string, from, to time.Time) ([]Span, error)
	// Stats is a snapshot of live recorder and ring state. It never blocks
	// on I/O.
	Stats() RecorderStats
	// CheckHold reports whether holding camera's [from, to) on top of the
	// already active holds fits the configured hold share of capacity. It
	// returns an error wrapping ErrHoldCapacity when it does not.
	CheckHold(camera string, from, to time.Time, active []HoldRange) error
}

// CameraStopper is implemented by a recorder that can stop recording one
// camera while the others go on: core calls it after a camera's removal
// is committed. StopCamera returns once the camera writes nothing more.
type CameraStopper interface {
	StopCamera(id string) error
}

// Span is one contiguous stretch of recorded footage.
type Span struct {
	Camera string
	Start  time.Time // UTC
	End    time.Time // UTC, exclusive
	Bytes  int64
	// Damaged: recorded, but the stored bytes fail their check; playback
	// and exports skip it and name the gap.
	Damaged bool
}

// HoldRange is the part of a hold the recorder needs: what to keep, until when.
type HoldRange struct {
	HoldID string
	Camera string
	From   time.Time // UTC
	To     time.Time // UTC, exclusive
	Until  time.Time // UTC; the hold lapses at this time
}

// Erasure is the recorder's proof of deletion for one block of one camera:
// footage of Camera from From to To was made unrecoverable at ErasedAt.
// Block and Generation identify the ring block lap, which makes recording
// the same erasure twice (a crash between erase and record) a no-op.
type Erasure struct {
	Camera     string
	From       time.Time
	To         time.Time
	ErasedAt   time.Time
	Block      uint32
	Generation uint64
	Bytes      int64
	Reason     string // "retention" (past the policy's retention) or "overwrite" (ring full)
}

// RecordingEvent is something the recorder noticed that belongs in the
// ledger: a clock jump, a timestamp discontinuity, a camera lost or back.
type RecordingEvent struct {
	Camera  string
	Kind    string // "discontinuity", "clock-jump", "camera-down", "camera-up", "write-error", … (recorder/ingest lists them)
	At      time.Time
	Details map[string]string
}

// RecorderStats is the live state shown on storage-health screens and in
// `health --json`.
type RecorderStats struct {
	Ring    RingStats
	Cameras []CameraStats
}

// RingStats describes the on-disk overwrite ring.
type RingStats struct {
	CapacityBytes   int64
	UsedBytes       int64
	HeldBytes       int64
	HoldLimitBytes  int64
	BlockSize       int64
	Blocks          int
	FreeBlocks      int
	WriteBytesPerS  float64
	AppendedBytes   int64 // record bytes appended since start (footage plus headers and tags)
	FsyncLatencyP50 time.Duration
	FsyncLatencyMax time.Duration
	WriteErrors     uint64
	LastWriteError  string
	DiskFreeBytes   int64
	FsyncSeconds    Histogram               // every fdatasync of ring.dat since start
	Erased          map[string]ErasureCount // by Erasure.Reason, since start

	// Ring time (retention and hold expiry) against the wall clock: steps
	// detected, the last one, and how far the wall clock now is from the
	// ring's trusted time.
	ClockSteps      uint64
	LastClockStep   time.Time
	LastClockStepBy time.Duration
	ClockOffset     time.Duration
	// Damaged footage still in the ring: how many fragments, the latest few.
	DamagedFragments uint64
	Damaged          []Span
	// Alerts a technician must act on (disk full, write errors, a camera
	// starved of blocks, a disk stall, ...), in-memory only.
	Alerts []RingAlert
}

// RingAlert is a storage condition a technician must act on.
type RingAlert struct {
	Kind   string // "disk-full", "write-errors", "camera-starved", "disk-stall", "clock-step", "damaged-footage", "holds-over-share", "copy-on-write-fs"
	Camera string // for per-camera alerts
	Since  time.Time
	Detail string
}

// CameraStats describes one camera's ingest and retention.
type CameraStats struct {
	Camera          string
	Connected       bool
	State           string // "connecting", "recording", "stream-invalid", "stalled", "error", "stopped"
	Codec           string // "H264", "H265"
	Width, Height   int
	FPS             float64
	BitrateBps      float64
	LastFrame       time.Time
	Reconnects      uint64
	LastError       string
	Oldest          time.Time     // oldest footage still on disk
	AchievedRetain  time.Duration // now - Oldest
	TargetRetain    time.Duration
	ClockJumps      uint64
	Discontinuities uint64
	DroppedFrames   uint64
	BytesStored     int64
	// Stream faults since start, each a count of occurrences.
	PacketsLost     uint64        // RTP packets missing from the sequence
	InvalidPayloads uint64        // payloads or access units that do not parse
	OversizeUnits   uint64        // NAL or access units over the size limit, dropped
	MissingParams   uint64        // access units dropped for want of SPS/PPS (VPS)
	SSRCChanges     uint64        // RTP source restarts
	FramesReceived  uint64        // access units stored since start
	BytesReceived   uint64        // their bytes as the camera sent them
	SinceLastFrame  time.Duration // on the monotonic clock (a clock step does not move it); 0 before the first frame
}

// ErrHoldCapacity is returned when a hold would exceed the share of the
// ring that holds may use.
var ErrHoldCapacity = holdCapacityError{}

type holdCapacityError struct{}

func (holdCapacityError) Error() string {
	return "hold exceeds the share of storage reserved for holds"
}

// Exporter builds the export package of an approved request. The recorder
// implements it; core calls it from ExportRequest after every check
// (role, state, approved range, protection, the manager's lock) has passed.
type Exporter interface {
	Export(ctx context.Context, job ExportJob, progress func(done, total int64)) (ExportRecord, error)
}

// ExportJob is everything an export package states about itself.
type ExportJob struct {
	Request Request
	// Ranges is exactly what was approved, per camera (000 §9-4: what
	// the search found and the manager approved). Cameras, From and To
	// are its cameras and bounds, for callers that need only those.
	Ranges     []FoundRange
	Cameras    []string
	From, To   time.Time // bounds of Ranges, UTC
	Protection string    // how the package is encrypted (ProtectApprovalSecret, ProtectRecipientKey)
	Recipients []string  // the age or SSH public keys to encrypt to (one: the request's)
	// Checkpoint is the signed checkpoint (note text) when the export
	// began, and Proofs the request's ledger entries proven in it: the
	// manifest carries both.
	Checkpoint  []byte
	Proofs      []EntryProof
	Dir         string // export_dir
	Operator    string // who runs the export
	Approver    string
	LedgerSeq   uint64 // head of the ledger when the export began
	ApplianceID string
	Version     string
}
