// Package ring is the recorder's on-disk overwrite ring: one preallocated
// file of fixed-size blocks (one camera per block) holding self-describing
// records, and a bbolt index of blocks and fragments beside it.
package ring

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"

	"mimamori/core"
)

// ErasureLog receives the proof of every erased block. core implements it by
// appending a ledger entry, deduplicated by (Block, Generation, Camera).
type ErasureLog interface {
	RecordErasure(core.Erasure) error
}

// ErasureBatchLog is an ErasureLog that records a batch of proofs in one
// commit (core.Store.RecordErasures); when the ErasureLog has it, the
// ring hands each batch of erased blocks over in one call.
type ErasureBatchLog interface {
	ErasureLog
	RecordErasures([]core.Erasure) error
}

// HoldSource reports the holds that are in force at now. The ring passes
// the earliest time it can trust and judges each hold's lapse itself on
// ring time (clock.go), so a wall-clock step cannot end a hold early.
type HoldSource interface {
	ActiveHolds(now time.Time) []core.HoldRange
}

// EventLog receives recording events (clock steps, damaged footage, disk
// alerts). core implements it and coalesces repeats.
type EventLog interface {
	RecordEvent(core.RecordingEvent) error
}

// Options configures a Ring. Zero values take the documented defaults.
type Options struct {
	Dir          string        // holds ring.dat and index.db
	Capacity     int64         // bytes of ring.dat; rounded down to whole blocks
	BlockSize    int64         // default 4 MiB
	MaxBlockSpan time.Duration // a block is sealed once its first fragment is this old; default 30 s
	Retention    time.Duration // footage older than this is erased; 0 disables retention expiry
	HoldShare    float64       // share of Capacity that holds may pin; 0 means no holds
	Now          func() time.Time
	// Mono is elapsed time that no wall-clock step moves, counting
	// suspend; default CLOCK_BOOTTIME. BootID names its origin (default:
	// the kernel's boot id) so a restart knows whether readings compare.
	Mono   func() time.Duration
	BootID string
	// ClockSynced reports whether the kernel holds the wall clock
	// synchronized (NTP); default adjtimex. After a reboot the downtime,
	// which only the wall clock saw, is credited to ring time once the
	// clock is synchronized or has run an hour without a step.
	ClockSynced func() bool
	Erasures    ErasureLog
	Holds       HoldSource
	Events      EventLog
	Logger      *slog.Logger
	// SyncInterval is the index commit period (recovery rescans at most
	// this much); default 1 s. DataSyncInterval is how often written
	// footage is fdatasynced, which bounds the loss on power failure;
	// default 250 ms.
	SyncInterval     time.Duration
	DataSyncInterval time.Duration
	// NoSync skips every fsync (ring.dat, keys.dat, index.db). Simulations
	// only (tools/soak): a crash or power loss may lose anything.
	NoSync bool

	// fallocate, for tests, replaces the preallocation of ring.dat.
	fallocate func(fd int, size int64) error
	// freeSpace, for benchmarks on a sparse ring.dat, replaces the file
	// system's free space in Open's check.
	freeSpace func(dir string) (int64, error)
	// eraseBatch, for tests, replaces maxEraseBatch.
	eraseBatch int
}

// Typed errors callers can test with errors.Is.
var (
	ErrClosed        = errors.New("ring: closed")
	ErrRingFull      = errors.New("ring: no block available (all blocks open or held)")
	ErrTooLarge      = errors.New("ring: record larger than a block")
	ErrUnknownInit   = errors.New("ring: unknown init segment")
	ErrUnknownCamera = errors.New("ring: unknown camera")
	ErrStale         = errors.New("ring: fragment no longer in the ring")
	ErrDamaged       = errors.New("ring: fragment damaged (stored bytes fail their check)")
	ErrCorrupt       = errors.New("ring: stored data does not verify")
	ErrNoSpace       = errors.New("ring: not enough free disk space for the ring")
	ErrNoHolds       = errors.New("ring: holds are disabled (storage.hold_share is 0)")
	ErrGeometry      = errors.New("ring: ring geometry differs from the existing index")
	ErrInvalid       = errors.New("ring: invalid argument")
)

const (
	defaultBlockSize    = 4 << 20
	defaultMaxBlockSpan = 30 * time.Second
	defaultSyncInterval = time.Second
	defaultDataSync     = 250 * time.Millisecond
	// MinBlocksPerCamera is the smallest ring per camera: its open block,
	// one being sealed, and two for the erased reserve and retention. config
	// refuses a ring smaller than this × cameras at start.
	MinBlocksPerCamera = 4
)

func (o *Options) withDefaults() (Options, error) {
	c := *o
	if c.BlockSize == 0 {
		c.BlockSize = defaultBlockSize
	}
	if c.MaxBlockSpan == 0 {
		c.MaxBlockSpan = defaultMaxBlockSpan
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = defaultSyncInterval
	}
	if c.DataSyncInterval == 0 {
		c.DataSyncInterval = min(defaultDataSync, c.SyncInterval)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Mono == nil {
		c.Mono = bootTime
		if c.BootID == "" {
			c.BootID = currentBootID()
		}
	}
	if c.ClockSynced == nil {
		c.ClockSynced = kernelClockSynced
	}
	if c.eraseBatch <= 0 {
		c.eraseBatch = maxEraseBatch
	}
	if c.fallocate == nil {
		c.fallocate = func(fd int, size int64) error { return unix.Fallocate(fd, 0, 0, size) }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Dir == "":
		return c, fmt.Errorf("%w: Dir is empty", ErrInvalid)
	case c.BlockSize < 4096 || c.BlockSize%4096 != 0 || c.BlockSize > 1<<31:
		return c, fmt.Errorf("%w: BlockSize %d must be a multiple of 4096 up to 2 GiB", ErrInvalid, c.BlockSize)
	case c.Capacity/c.BlockSize < 2:
		return c, fmt.Errorf("%w: Capacity %d holds fewer than 2 blocks", ErrInvalid, c.Capacity)
	case c.HoldShare < 0 || c.HoldShare > 1:
		return c, fmt.Errorf("%w: HoldShare %v", ErrInvalid, c.HoldShare)
	case c.MaxBlockSpan < 0 || c.Retention < 0 || c.SyncInterval < 0 || c.DataSyncInterval < 0:
		return c, fmt.Errorf("%w: negative duration", ErrInvalid)
	}
	return c, nil
}
