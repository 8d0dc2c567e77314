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
//  2. the block's key destroyed: its keys.dat slot overwritten with the
//     next generation's key, fdatasync (a version-1 plaintext block from
//     an earlier release is first overwritten with zeros and synced);
//  3. Erasures.RecordErasure (core dedups by Block, Generation, Camera);
//  4. index tx: block -> free with generation+1.
//
// After step 2 the block's ciphertext is still in ring.dat, but no copy of
// its key exists anywhere: that is the erasure the proof records. It costs
// one 64-byte slot write and one small fdatasync instead of rewriting the
// block, so wrapping writes the footage once.
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
	if m.plain {
		// A plaintext block of an earlier release: only overwriting erases
		// it. The whole block, not just [0, used): a torn write may have
		// left bytes beyond used.
		if err := r.zeroRange(int64(b)*r.bs, r.bs); err != nil {
			return r.noteWriteError("erase: zero block", err)
		}
		if err := r.fdatasync(); err != nil {
			return r.noteWriteError("erase: fdatasync", err)
		}
	}
	if err := r.destroyKey(b, m.gen); err != nil {
		return err
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
	r.forgetDamage(b, m.gen)
	r.log.Debug("block erased", "block", b, "camera", camName, "gen", m.gen, "bytes", m.used, "reason", reasonString(m.reason))
	return nil
}

// destroyKey overwrites block b's key slot with a fresh key for generation
// gen+1 and syncs keys.dat: the key of generation gen is gone from disk.
// Redoing it (after a crash) just draws another fresh key.
//
// The caller holds syncMu, which serializes erasures; keyMu is held only
// for the slot write, not the sync, so readers of other blocks' keys do not
// wait for the disk.
func (r *Ring) destroyKey(b uint32, gen uint64) error {
	done := r.io.begin()
	defer done()
	r.keyMu.Lock()
	err := r.keys.put(b, gen+1)
	r.keyMu.Unlock()
	if err != nil {
		return r.noteWriteError("erase: overwrite key", err)
	}
	if err := r.keys.sync(); err != nil {
		return r.noteWriteError("erase: sync keys.dat", err)
	}
	return nil
}

// Sweep enforces retention on ring time: it seals idle open blocks,
// erases every sealed, unheld block whose last append is more than
// Retention of ring time ago, retries unfinished erasures, and drops init
// segments no fragment references. The wall clock plays no part: a step
// forward or back neither erases young footage nor ends a hold early.
func (r *Ring) Sweep() error {
	if r.isClosed() {
		return ErrClosed
	}
	r.checkClock()
	now := r.clock.now()

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
			if m.used > 0 && now-m.openedE >= span {
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
	holds := r.activeHoldsLocked()
	var todo []uint32
	expired := func(m blockMeta) bool {
		return m.state == stateSealed && r.o.Retention > 0 && now-m.lastE >= int64(r.o.Retention)
	}
	for i, m := range r.blocks {
		if m.state == stateErasing || (expired(m) && !r.heldLocked(m, holds)) {
			todo = append(todo, uint32(i))
		}
	}
	var held int64
	for _, m := range r.blocks {
		if m.state != stateFree && r.heldLocked(m, holds) {
			held += r.bs
		}
	}
	r.heldBytes = held
	r.mu.Unlock()

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
			if r.heldLocked(m, r.activeHoldsLocked()) {
				r.blocks[b].state = stateSealed
				r.blocks[b].reason = reasonNone
			} else {
				erase = true
			}
		case expired(m) && !r.heldLocked(m, r.activeHoldsLocked()):
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

// checkClock looks for a wall-clock step; a step found is queued for the
// event log (once) and shown in Stats.
func (r *Ring) checkClock() {
	r.clock.check()
	for _, s := range r.clock.takePending() {
		r.log.Warn("wall clock stepped; retention and holds keep ring time", "by", s.By, "now", s.At)
		r.event("", "clock-step", map[string]string{"by": s.By.String(), "wall_now": s.At.Format(time.RFC3339Nano)})
	}
	if credit, bootE, ok := r.clock.confirm(); ok {
		r.creditDowntime(credit, bootE)
		r.log.Info("wall clock confirmed after the reboot; downtime credited to retention and holds", "downtime", time.Duration(credit))
	}
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
