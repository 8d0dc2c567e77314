// Package ring is the recorder's on-disk overwrite ring: one preallocated
// file of fixed-size blocks (one camera per block) holding self-describing
// records, and a bbolt index of blocks and fragments beside it.
package ring

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mimamori/core"
)

// ErasureLog receives the proof of every erased block. core implements it by
// appending a ledger entry, deduplicated by (Block, Generation, Camera).
type ErasureLog interface {
	RecordErasure(core.Erasure) error
}

// HoldSource reports the holds that are in force at now.
type HoldSource interface {
	ActiveHolds(now time.Time) []core.HoldRange
}

// Options configures a Ring. Zero values take the documented defaults.
type Options struct {
	Dir          string        // holds ring.dat and index.db
	Capacity     int64         // bytes of ring.dat; rounded down to whole blocks
	BlockSize    int64         // default 4 MiB
	MaxBlockSpan time.Duration // a block is sealed once its first fragment is this old; default 30 s
	Retention    time.Duration // footage older than this is erased; 0 disables retention expiry
	HoldShare    float64       // share of Capacity that holds may pin; default 0.25
	Now          func() time.Time
	Erasures     ErasureLog
	Holds        HoldSource
	Logger       *slog.Logger
	SyncInterval time.Duration // data fdatasync + index commit period; default 1 s
}

// Typed errors callers can test with errors.Is.
var (
	ErrClosed        = errors.New("ring: closed")
	ErrRingFull      = errors.New("ring: no block available (all blocks open or held)")
	ErrTooLarge      = errors.New("ring: record larger than a block")
	ErrUnknownInit   = errors.New("ring: unknown init segment")
	ErrUnknownCamera = errors.New("ring: unknown camera")
	ErrStale         = errors.New("ring: fragment no longer in the ring")
	ErrCorrupt       = errors.New("ring: stored data does not verify")
	ErrGeometry      = errors.New("ring: ring geometry differs from the existing index")
	ErrInvalid       = errors.New("ring: invalid argument")
)

const (
	defaultBlockSize    = 4 << 20
	defaultMaxBlockSpan = 30 * time.Second
	defaultHoldShare    = 0.25
	defaultSyncInterval = time.Second
	// clockJumpLimit: a sweep whose wall time moved further than this since
	// the previous sweep (or backwards) erases nothing for retention.
	clockJumpLimit = time.Hour
)

func (o *Options) withDefaults() (Options, error) {
	c := *o
	if c.BlockSize == 0 {
		c.BlockSize = defaultBlockSize
	}
	if c.MaxBlockSpan == 0 {
		c.MaxBlockSpan = defaultMaxBlockSpan
	}
	if c.HoldShare == 0 {
		c.HoldShare = defaultHoldShare
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = defaultSyncInterval
	}
	if c.Now == nil {
		c.Now = time.Now
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
	case c.MaxBlockSpan < 0 || c.Retention < 0 || c.SyncInterval < 0:
		return c, fmt.Errorf("%w: negative duration", ErrInvalid)
	}
	return c, nil
}
