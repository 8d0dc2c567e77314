package ring

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	metas := make(map[uint32][]byte, len(r.dirty))
	for b := range r.dirty {
		metas[b] = r.blocks[b].encode(r.initsOf(b))
	}
	clear(r.dirty)
	// The lease goes with every commit (book.go); until it is durable,
	// appends take only blocks in both the old and the new one.
	lease := r.leaseWantLocked()
	leaseChanged := len(lease) != len(r.lease)
	for _, b := range lease {
		if _, ok := r.lease[b]; !ok {
			leaseChanged = true
		}
	}
	if leaseChanged {
		r.narrowLeaseLocked(lease)
	}
	// The clock with the credits it stamps (putState): both from now,
	// and after taking a step's mark, so the triple committed with it is
	// from after the step.
	stepped := r.clock.takeDirty()
	credits, creditsDirty, clk := slices.Clone(r.credits), r.creditsDirty, r.clock.state()
	r.creditsDirty = false
	cams := make([]cameraRec, 0, len(r.camDirty))
	names := make([]string, 0, len(r.camDirty))
	for num := range r.camDirty {
		c := r.camByNum[num]
		cams = append(cams, cameraRec{num: c.num, nextSeq: c.nextSeq, lastInit: c.lastInit, maxInit: c.maxInit})
		names = append(names, c.name)
	}
	clear(r.camDirty)
	r.mu.Unlock()
	dlPut, dlDel := r.takeDeadlineChanges()
	dmg := r.takeDamageChanges()

	requeue := func() {
		r.mu.Lock()
		r.pending = append(entries, r.pending...)
		for b := range metas {
			r.dirty[b] = struct{}{}
		}
		for _, c := range cams {
			r.camDirty[c.num] = struct{}{}
		}
		for k := range dlPut {
			r.dlDirty[k] = struct{}{}
		}
		r.creditsDirty = r.creditsDirty || creditsDirty
		r.mu.Unlock()
		r.requeueDamage(dmg)
		if stepped {
			r.clock.markDirty()
		}
	}
	if len(entries) > 0 || len(metas) > 0 || len(cams) > 0 {
		// Block metas (used bytes) and camera records describe what was
		// written: synced first, like the entries.
		written := r.written.Load()
		if err := r.fdatasync(); err != nil {
			// Entries stay queued, and are dropped below next time: what a
			// failed sync covered is never indexed.
			requeue()
			return r.noteWriteError("fdatasync ring.dat", err)
		}
		r.dataSynced.Store(written)
	}
	entries = r.dropUnsynced(entries)
	if len(entries) == 0 && len(metas) == 0 && len(cams) == 0 && len(dlPut) == 0 && len(dlDel) == 0 &&
		len(dmg) == 0 && !stepped && !leaseChanged && !creditsDirty {
		r.updateRate()
		return nil
	}
	// Ring time goes with every commit (clk, taken above): any (ring
	// time, monotonic, wall) triple lets the next start on this boot
	// measure the downtime, and one taken after a step keeps that step
	// from being reported twice.
	err := r.update(func(tx *bolt.Tx) error {
		if err := putState(tx.Bucket(bktMeta), clk, lease, credits); err != nil {
			return err
		}
		hb := tx.Bucket(bktHolds)
		for k, d := range dlPut {
			if err := hb.Put([]byte(k), d.encode()); err != nil {
				return err
			}
		}
		for _, k := range dlDel {
			if err := hb.Delete([]byte(k)); err != nil {
				return err
			}
		}
		db := tx.Bucket(bktDamaged)
		for k, d := range dmg {
			var err error
			if d == nil {
				err = db.Delete([]byte(k))
			} else {
				err = db.Put([]byte(k), d.encode())
			}
			if err != nil {
				return err
			}
		}
		for _, e := range entries {
			bk := fragBucket(tx, e.cam)
			if bk == nil {
				return fmt.Errorf("%w: no fragment bucket for camera %d", ErrCorrupt, e.cam)
			}
			if err := putFrag(bk, e.key, e.val); err != nil {
				return err
			}
		}
		blocks := tx.Bucket(bktBlocks)
		for b, v := range metas {
			if err := blocks.Put(u32key(b), v); err != nil {
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
	r.mu.Lock()
	r.leaseCommittedLocked(lease)
	r.mu.Unlock()
	r.updateRate()
	return nil
}

// dropUnsynced removes the entries of records written before an
// fdatasync failed: they may not be on disk, whatever later syncs say.
// Their bytes stay in their blocks, unindexed, and are erased with them.
// The loss is counted and reported once per failure.
func (r *Ring) dropUnsynced(entries []pendingEntry) []pendingEntry {
	bad := r.unsyncedUpTo.Load()
	if bad == 0 {
		return entries
	}
	kept := entries[:0]
	lost := map[uint32]int{}
	var lostIn []uint32
	for _, e := range entries {
		if e.w <= bad {
			lost[e.cam]++
			lostIn = append(lostIn, e.block)
			continue
		}
		kept = append(kept, e)
	}
	if len(lost) == 0 {
		return kept
	}
	r.mu.Lock()
	for _, b := range lostIn { // their meta covers footage no longer indexed
		r.blocks[b].flags &^= flagRun
		r.dirty[b] = struct{}{}
	}
	names := make([]string, 0, len(lost))
	n := 0
	for num, k := range lost {
		if c := r.camByNum[num]; c != nil {
			names = append(names, c.name)
		}
		n += k
	}
	r.mu.Unlock()
	slices.Sort(names)
	err := fmt.Errorf("%d fragments written before a failed fdatasync are not indexed (cameras %s)", n, strings.Join(names, ","))
	r.noteWriteError("fragments lost to a failed sync", err)
	r.event("", "write-error", map[string]string{"error": err.Error(), "fragments": fmt.Sprint(n)})
	return kept
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

// SyncData makes everything appended so far durable in ring.dat without
// indexing it: after a power loss, recovery finds it by scanning. Run
// calls it every DataSyncInterval, which bounds the footage a power loss
// can take (docs/design.md, "Durability").
func (r *Ring) SyncData() error {
	w := r.written.Load()
	if w == r.dataSynced.Load() || r.isClosed() {
		return nil
	}
	if err := r.fdatasync(); err != nil {
		return r.noteWriteError("fdatasync ring.dat", err)
	}
	r.dataSynced.Store(w)
	return nil
}

// Run syncs data every DataSyncInterval and the index every SyncInterval,
// sweeps retention periodically, keeps the reserve of erased blocks full
// (reserve.go), watches for a stalled disk and hands events to the event
// log, until ctx is done. Tickers are monotonic.
func (r *Ring) Run(ctx context.Context) {
	evCtx, stopEvents := context.WithCancel(context.Background())
	evDone := make(chan struct{})
	go func() { defer close(evDone); r.emitEvents(evCtx) }()
	defer func() { stopEvents(); <-evDone }()
	// The stall watch runs on its own: the loop below may itself be the
	// one waiting for the disk.
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); r.watchLoop(ctx) }()
	defer func() { <-watchDone }()

	dataT := time.NewTicker(r.o.DataSyncInterval)
	defer dataT.Stop()
	syncT := time.NewTicker(r.o.SyncInterval)
	defer syncT.Stop()
	sweepEvery := min(max(r.o.MaxBlockSpan/2, time.Second), 30*time.Second)
	sweepT := time.NewTicker(sweepEvery)
	defer sweepT.Stop()
	// A catch-up (more expired than one slice) goes on after a pause,
	// the syncs and the reserve getting their turns in between.
	var again <-chan time.Time
	var round sweepRound
	sweep := func() {
		more, err := r.sweep(sweepSlice, &round)
		if err != nil && err != ErrClosed {
			r.errorByRate("sweep failed", "sweep failed", "err", err)
		}
		again = nil
		if more {
			again = time.After(catchUpPause)
			return
		}
		r.refreshDiskFree()
		r.releaseIndexPages()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-dataT.C:
			if err := r.SyncData(); err != nil {
				r.errorByRate("data sync failed", "data sync failed", "err", err)
			}
		case <-syncT.C:
			r.checkClock()
			r.observeHolds()
			if err := r.Sync(); err != nil && err != ErrClosed {
				r.errorByRate("sync failed", "sync failed", "err", err)
			}
			r.refillReserveLogged()
		case <-r.refill:
			r.refillReserveLogged()
		case <-sweepT.C:
			sweep()
		case <-again:
			sweep()
		}
	}
}

// watchLoop checks once a second for a stalled disk and for low space.
func (r *Ring) watchLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var w stallWatch
	full := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.watchStall(&w)
			r.refreshDiskFree()
			r.statsMu.Lock()
			free, noSpaceAt := r.diskFree, r.noSpaceAt
			r.statsMu.Unlock()
			isFull := free < lowSpace || (!noSpaceAt.IsZero() && time.Since(noSpaceAt) < errorWindow)
			if isFull != full {
				full = isFull
				kind := "disk-full"
				if !full {
					kind = "disk-full-end"
				}
				r.event("", kind, map[string]string{"free_bytes": fmt.Sprint(free)})
			}
		}
	}
}

func (r *Ring) refillReserveLogged() {
	if err := r.RefillReserve(); err != nil && err != ErrClosed {
		r.errorByRate("reserve refill failed", "reserve refill failed", "err", err)
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
	st.FreeBlocks = r.free.len()
	st.UsedBytes = r.usedBytes
	st.HeldBytes = int64(r.heldN+r.heldOpenLocked()) * r.bs
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
	st.AppendedBytes = r.written.Load()
	st.DiskFreeBytes = r.diskFree
	st.FsyncSeconds = r.fsyncHist.Clone()
	st.Erased = maps.Clone(r.erased)
	r.statsMu.Unlock()
	st.ClockSteps, _ = r.clock.stats()
	if st.ClockSteps > 0 {
		_, last := r.clock.stats()
		st.LastClockStep, st.LastClockStepBy = last.At, last.By
	}
	st.ClockOffset = r.clock.offset()
	st.DamagedFragments, st.Damaged = r.damageStats(8)
	st.Alerts = r.alerts(st)
	return st
}

// ClockSteps reports the wall-clock steps detected so far.
func (r *Ring) ClockSteps() uint64 { n, _ := r.clock.stats(); return n }

// TrustedNow is the wall time the ring believes: the wall clock as it was
// at start (or as carried over from the last run on this boot), advanced by
// elapsed time, unmoved by steps since.
func (r *Ring) TrustedNow() time.Time { return r.clock.trustedWall() }
