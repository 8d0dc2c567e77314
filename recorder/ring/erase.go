package ring

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// eraseBlock makes block b unrecoverable and records the proof. The caller
// holds syncMu and has put the block in stateErasing (with a reason) in
// memory. Steps, each redone from the persisted state after a crash:
//
//  1. index tx: block -> erasing, its fragment entries deleted;
//  2. zeros over the whole block, fdatasync;
//  3. Erasures.RecordErasure (core dedups by Block, Generation, Camera);
//  4. index tx: block -> free with generation+1.
//
// If step 1 fails for a block whose erasing state was never committed, the
// erasure has not begun: the block goes back to sealed with its queued
// index entries, and a later sweep or refill decides afresh (holds
// included). On a later error the block stays erasing and a sweep retries.
func (r *Ring) eraseBlock(b uint32) error {
	r.mu.Lock()
	m := r.blocks[b].clone()
	_, wasDirty := r.dirty[b]
	delete(r.dirty, b)
	var dropped []pendingEntry
	kept := r.pending[:0]
	for _, e := range r.pending {
		if e.block != b {
			kept = append(kept, e)
		} else {
			dropped = append(dropped, e)
		}
	}
	clear(r.pending[len(kept):])
	r.pending = kept
	var camName string
	if c := r.camByNum[m.camera]; c != nil {
		camName = c.name
	}
	r.mu.Unlock()
	if m.state != stateErasing {
		r.mu.Lock()
		r.pending = append(r.pending, dropped...)
		if wasDirty {
			r.dirty[b] = struct{}{}
		}
		r.mu.Unlock()
		return fmt.Errorf("ring: erase block %d in state %s", b, m.state)
	}

	err := r.db.Update(func(tx *bolt.Tx) error {
		if r.failEraseMark != nil {
			if err := r.failEraseMark(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bktBlocks).Put(u32key(b), m.encode()); err != nil {
			return err
		}
		bk := tx.Bucket(bktFrags).Bucket(u32key(m.camera))
		if bk == nil || !m.hasFragments() {
			return nil
		}
		// Entries of this block start within [first, last]; collect then
		// delete (deleting under a moving cursor skips keys).
		var del [][]byte
		cur := bk.Cursor()
		for k, v := cur.Seek(timeKey(m.first, 0)); k != nil && keyStart(k) <= m.last; k, v = cur.Next() {
			if e, err := decodeFragEntry(v); err == nil && e.block == b {
				del = append(del, append([]byte(nil), k...))
			}
		}
		for _, k := range del {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if !m.markedErasing {
			r.mu.Lock()
			if r.blocks[b].state == stateErasing {
				r.blocks[b].state = stateSealed
				r.blocks[b].reason = reasonNone
			}
			r.pending = append(dropped, r.pending...)
			if wasDirty {
				r.dirty[b] = struct{}{}
			}
			r.mu.Unlock()
		}
		return r.noteWriteError("erase: mark block", err)
	}
	r.mu.Lock()
	r.blocks[b].markedErasing = true
	r.mu.Unlock()
	// The whole block, not just [0, used): a failed or torn write may have
	// left bytes beyond used.
	if err := r.zeroRange(int64(b)*r.bs, r.bs); err != nil {
		return r.noteWriteError("erase: zero block", err)
	}
	if err := r.fdatasync(); err != nil {
		return r.noteWriteError("erase: fdatasync", err)
	}
	if r.o.Erasures != nil && (m.used > 0 || m.hasFragments()) {
		now := r.o.Now().UTC()
		from, to := now, now
		if m.hasFragments() {
			from, to = time.Unix(0, m.first).UTC(), time.Unix(0, m.last).UTC()
		}
		er := core.Erasure{Camera: camName, From: from, To: to, ErasedAt: now,
			Block: b, Generation: m.gen, Bytes: m.used, Reason: reasonString(m.reason)}
		if err := r.o.Erasures.RecordErasure(er); err != nil {
			return fmt.Errorf("ring: record erasure of block %d: %w", b, err)
		}
	}
	free := blockMeta{state: stateFree, gen: m.gen + 1}
	err = r.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBlocks).Put(u32key(b), free.encode())
	})
	if err != nil {
		return r.noteWriteError("erase: free block", err)
	}
	r.mu.Lock()
	r.blocks[b] = free
	r.mu.Unlock()
	if m.used > 0 || m.hasFragments() { // as proven to the ledger above
		r.countErasure(reasonString(m.reason), m.used)
	}
	r.log.Debug("block erased", "block", b, "camera", camName, "gen", m.gen, "bytes", m.used, "reason", reasonString(m.reason))
	return nil
}

// activeHolds asks the HoldSource; callers read it under r.mu, right
// before marking a block erasing, so a hold placed meanwhile is seen. The
// HoldSource must not call back into the ring (core's reads a snapshot).
func (r *Ring) activeHolds(now time.Time) []core.HoldRange {
	if r.o.Holds == nil {
		return nil
	}
	return r.o.Holds.ActiveHolds(now)
}

// heldLocked reports whether a hold of the block's camera overlaps it.
// Caller holds r.mu.
func (r *Ring) heldLocked(m blockMeta, holds []core.HoldRange, now time.Time) bool {
	if !m.hasFragments() {
		return false
	}
	c := r.camByNum[m.camera]
	if c == nil {
		return false
	}
	for _, h := range holds {
		if h.Camera != c.name || (!h.Until.IsZero() && !now.Before(h.Until)) {
			continue
		}
		if h.From.UnixNano() < m.last && h.To.UnixNano() > m.first {
			return true
		}
	}
	return false
}

// Sweep enforces retention at wall time now: it seals idle open blocks,
// erases every sealed, unheld block whose newest footage ended before
// now-Retention, retries unfinished erasures, and drops init segments no
// fragment references. After a clock jump (backwards, or forward more than
// an hour since the previous sweep) it erases nothing for retention.
func (r *Ring) Sweep(now time.Time) error {
	if r.isClosed() {
		return ErrClosed
	}
	holds := r.activeHolds(now)

	// Seal blocks of cameras that stopped sending, so they can expire.
	r.mu.Lock()
	cams := make([]*camera, 0, len(r.cams))
	for _, c := range r.cams {
		cams = append(cams, c)
	}
	r.mu.Unlock()
	span := int64(r.o.MaxBlockSpan)
	for _, c := range cams {
		c.mu.Lock()
		r.mu.Lock()
		if c.open >= 0 {
			m := r.blocks[c.open]
			if m.used > 0 && now.UnixNano()-m.openedAt >= span {
				r.sealLocked(c)
			}
		}
		r.mu.Unlock()
		c.mu.Unlock()
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	jumped := !r.lastSweep.IsZero() && (now.Before(r.lastSweep) || now.Sub(r.lastSweep) > clockJumpLimit)
	prev := r.lastSweep
	r.lastSweep = now
	var todo []uint32
	cutoff := now.Add(-r.o.Retention).UnixNano()
	expired := func(m blockMeta) bool {
		return m.state == stateSealed && r.o.Retention > 0 && !jumped && m.last < cutoff
	}
	for i, m := range r.blocks {
		if m.state == stateErasing || (expired(m) && !r.heldLocked(m, holds, now)) {
			todo = append(todo, uint32(i))
		}
	}
	var held int64
	for _, m := range r.blocks {
		if m.state != stateFree && r.heldLocked(m, holds, now) {
			held += r.bs
		}
	}
	r.heldBytes = held
	r.mu.Unlock()
	if jumped {
		r.skippedSweeps.Add(1)
		r.log.Warn("wall clock jumped; retention erasure skipped this sweep", "previous", prev, "now", now)
	}

	// syncMu is taken per block, so Sync (the 1 s durability) runs between
	// erasures instead of waiting for the whole batch. Each candidate is
	// checked again, against holds read right before it is marked.
	var errs []error
	for _, b := range todo {
		r.syncMu.Lock()
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			r.syncMu.Unlock()
			return errors.Join(append(errs, ErrClosed)...)
		}
		m := r.blocks[b]
		erase := false
		switch {
		case m.state == stateErasing && m.markedErasing:
			erase = true // committed: finish it, holds or not
		case m.state == stateErasing:
			// Step 1 never committed: the block is still indexed, so a hold
			// placed since it was picked protects it.
			if r.heldLocked(m, r.activeHolds(now), now) {
				r.blocks[b].state = stateSealed
				r.blocks[b].reason = reasonNone
			} else {
				erase = true
			}
		case expired(m) && !r.heldLocked(m, r.activeHolds(now), now):
			r.blocks[b].state = stateErasing
			r.blocks[b].reason = reasonRetention
			erase = true
		}
		r.mu.Unlock()
		if erase {
			if err := r.eraseBlock(b); err != nil {
				errs = append(errs, err)
			}
		}
		r.syncMu.Unlock()
	}
	r.syncMu.Lock()
	if err := r.gcInitsLocked(); err != nil {
		errs = append(errs, err)
	}
	r.syncMu.Unlock()
	return errors.Join(errs...)
}

// gcInitsLocked deletes cached init segments that no block references and
// that are not a camera's current init. Caller holds syncMu. regMu is held
// throughout, so AppendInit, which reuses an id under regMu, either finds
// the id gone or makes it the current init before it is judged.
func (r *Ring) gcInitsLocked() error {
	r.regMu.Lock()
	defer r.regMu.Unlock()
	r.mu.Lock()
	keep := map[uint32]map[uint32]struct{}{}
	for _, c := range r.cams {
		keep[c.num] = map[uint32]struct{}{c.lastInit: {}}
	}
	for _, m := range r.blocks {
		if m.state == stateFree {
			continue
		}
		if keep[m.camera] == nil {
			keep[m.camera] = map[uint32]struct{}{}
		}
		for _, id := range m.inits {
			keep[m.camera][id] = struct{}{}
		}
	}
	type dead struct{ cam, id uint32 }
	var drop []dead
	for _, c := range r.cams {
		for id := range c.inits {
			if _, ok := keep[c.num][id]; !ok {
				drop = append(drop, dead{c.num, id})
			}
		}
	}
	r.mu.Unlock()
	if len(drop) == 0 {
		return nil
	}
	err := r.db.Update(func(tx *bolt.Tx) error {
		for _, d := range drop {
			if err := tx.Bucket(bktInits).Delete(initKey(d.cam, d.id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return r.noteWriteError("drop unused init segments", err)
	}
	r.mu.Lock()
	for _, d := range drop {
		c := r.camByNum[d.cam]
		delete(c.inits, d.id)
		for sum, id := range c.initBySHA {
			if id == d.id {
				delete(c.initBySHA, sum)
			}
		}
	}
	r.mu.Unlock()
	return nil
}

// countErasure adds one erased block to the counters Stats reports.
func (r *Ring) countErasure(reason string, bytes int64) {
	r.statsMu.Lock()
	if r.erased == nil {
		r.erased = map[string]core.ErasureCount{}
	}
	c := r.erased[reason]
	c.Blocks++
	c.Bytes += uint64(max(bytes, 0))
	r.erased[reason] = c
	r.statsMu.Unlock()
}
