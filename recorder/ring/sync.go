package ring

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// Sync makes every record written so far durable (fdatasync of ring.dat)
// and then indexes them in one bbolt transaction. The index never
// references data that was not synced first.
func (r *Ring) Sync() error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	if r.isClosed() {
		return ErrClosed
	}
	return r.syncLocked()
}

// syncLocked does Sync; caller holds syncMu.
func (r *Ring) syncLocked() error {
	r.mu.Lock()
	entries := r.pending
	r.pending = nil
	metas := make(map[uint32]blockMeta, len(r.dirty))
	for b := range r.dirty {
		metas[b] = r.blocks[b].clone()
	}
	clear(r.dirty)
	cams := make([]cameraRec, 0, len(r.camDirty))
	names := make([]string, 0, len(r.camDirty))
	for num := range r.camDirty {
		c := r.camByNum[num]
		cams = append(cams, cameraRec{num: c.num, nextSeq: c.nextSeq, lastInit: c.lastInit, maxInit: c.maxInit})
		names = append(names, c.name)
	}
	clear(r.camDirty)
	r.mu.Unlock()

	requeue := func() {
		r.mu.Lock()
		r.pending = append(entries, r.pending...)
		for b := range metas {
			r.dirty[b] = struct{}{}
		}
		for _, c := range cams {
			r.camDirty[c.num] = struct{}{}
		}
		r.mu.Unlock()
	}
	if len(entries) == 0 && len(metas) == 0 && len(cams) == 0 {
		r.updateRate()
		return nil
	}
	if err := r.fdatasync(); err != nil {
		// Entries stay queued: they are indexed only after a sync succeeds.
		requeue()
		return r.noteWriteError("fdatasync ring.dat", err)
	}
	err := r.db.Update(func(tx *bolt.Tx) error {
		frags := tx.Bucket(bktFrags)
		for _, e := range entries {
			bk := frags.Bucket(u32key(e.cam))
			if bk == nil {
				return fmt.Errorf("%w: no fragment bucket for camera %d", ErrCorrupt, e.cam)
			}
			if err := bk.Put(e.key, e.val); err != nil {
				return err
			}
		}
		blocks := tx.Bucket(bktBlocks)
		for b, m := range metas {
			if err := blocks.Put(u32key(b), m.encode()); err != nil {
				return err
			}
		}
		for i, c := range cams {
			if err := tx.Bucket(bktCameras).Put([]byte(names[i]), c.encode()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		requeue()
		return r.noteWriteError("commit index", err)
	}
	r.updateRate()
	return nil
}

func (r *Ring) updateRate() {
	now := time.Now()
	w := r.written.Load()
	r.statsMu.Lock()
	if el := now.Sub(r.rateAt); el >= 100*time.Millisecond {
		r.rate = float64(w-r.rateBytes) / el.Seconds()
		r.rateAt, r.rateBytes = now, w
	}
	r.statsMu.Unlock()
}

// Run syncs every SyncInterval, sweeps retention periodically and keeps
// the reserve of erased blocks full (reserve.go) until ctx is done.
// Tickers are monotonic; the wall clock only feeds Sweep.
func (r *Ring) Run(ctx context.Context) {
	syncT := time.NewTicker(r.o.SyncInterval)
	defer syncT.Stop()
	sweepEvery := min(max(r.o.MaxBlockSpan/2, time.Second), 30*time.Second)
	sweepT := time.NewTicker(sweepEvery)
	defer sweepT.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-syncT.C:
			if err := r.Sync(); err != nil && err != ErrClosed {
				r.log.Error("sync failed", "err", err)
			}
			r.refillReserveLogged()
		case <-r.refill:
			r.refillReserveLogged()
		case <-sweepT.C:
			if err := r.Sweep(r.o.Now()); err != nil && err != ErrClosed {
				r.log.Error("sweep failed", "err", err)
			}
			r.refreshDiskFree()
		}
	}
}

func (r *Ring) refillReserveLogged() {
	if err := r.RefillReserve(); err != nil && err != ErrClosed {
		r.log.Error("reserve refill failed", "err", err)
	}
}

// Stats is a snapshot of the ring; it does no I/O.
func (r *Ring) Stats() core.RingStats {
	st := core.RingStats{
		CapacityBytes:  r.size(),
		HoldLimitBytes: int64(r.o.HoldShare * float64(r.size())),
		BlockSize:      r.bs,
		Blocks:         r.nblocks,
	}
	r.mu.Lock()
	for _, m := range r.blocks {
		if m.state == stateFree {
			st.FreeBlocks++
		} else {
			st.UsedBytes += m.used
		}
	}
	st.HeldBytes = r.heldBytes
	r.mu.Unlock()
	r.statsMu.Lock()
	n := min(r.fsyncN, len(r.fsyncLat))
	if n > 0 {
		lat := slices.Clone(r.fsyncLat[:n])
		slices.Sort(lat)
		st.FsyncLatencyP50 = lat[n/2]
	}
	st.FsyncLatencyMax = r.fsyncMax
	st.WriteErrors = r.writeErrs
	st.LastWriteError = r.lastErr
	st.WriteBytesPerS = r.rate
	st.DiskFreeBytes = r.diskFree
	st.FsyncSeconds = r.fsyncHist.Clone()
	st.Erased = maps.Clone(r.erased)
	r.statsMu.Unlock()
	return st
}

// SkippedSweeps counts retention sweeps refused because the wall clock
// moved backwards or jumped forward more than an hour.
func (r *Ring) SkippedSweeps() uint64 { return r.skippedSweeps.Load() }
