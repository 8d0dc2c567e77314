package ring

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// maxEraseBatch bounds the blocks erased together: one index commit to
// mark them, one keys.dat sync, one ledger commit for their proofs and one
// index commit to free them, instead of that per block. syncMu is held
// for a batch, so the 1 s index Sync waits for at most one batch.
const maxEraseBatch = 16

// eraseBlock is eraseBlocks for one block.
func (r *Ring) eraseBlock(b uint32) error { return r.eraseBlocks([]uint32{b}) }

// eraseBlocks makes blocks bs unrecoverable and records their proofs. The
// caller holds syncMu and has put each block in stateErasing (with a
// reason) in memory. Steps, each redone per block from the persisted state
// after a crash:
//
//  1. index tx: the blocks -> erasing, their fragment entries deleted;
//  2. each block's key destroyed: its keys.dat slot overwritten with the
//     next generation's key, then one fdatasync for all (a version-1
//     plaintext block from an earlier release is first overwritten with
//     zeros and synced);
//  3. Erasures.RecordErasures, one call for the batch (core dedups by
//     Block, Generation, Camera, so a redo after a crash records nothing
//     twice);
//  4. index tx: the blocks -> free with generation+1.
//
// After step 2 a block's ciphertext is still in ring.dat, but no copy of
// its key exists anywhere: that is the erasure the proof records, so the
// proof is never handed over before it is durable. It costs one 64-byte
// slot write per block and one small fdatasync per batch instead of
// rewriting the blocks, so wrapping writes the footage once.
//
// If step 1 fails, blocks whose erasing state was never committed have
// not begun erasure: they go back to sealed with their queued index
// entries, and a later sweep or refill decides afresh (holds included).
// On a later error the blocks stay erasing and a sweep retries them.
func (r *Ring) eraseBlocks(bs []uint32) error {
	type victim struct {
		b        uint32
		m        blockMeta
		enc      []byte // its index value, erasing
		wasDirty bool
		dropped  []pendingEntry
		cam      string
	}
	var vs []victim
	var errs []error
	r.mu.Lock()
	in := make(map[uint32]bool, len(bs))
	for _, b := range bs {
		in[b] = true
	}
	dropped := map[uint32][]pendingEntry{}
	kept := r.pending[:0]
	for _, e := range r.pending {
		if in[e.block] {
			dropped[e.block] = append(dropped[e.block], e)
		} else {
			kept = append(kept, e)
		}
	}
	clear(r.pending[len(kept):])
	r.pending = kept
	for _, b := range bs {
		v := victim{b: b, m: r.blocks[b], enc: r.blocks[b].encode(r.initsOf(b)), dropped: dropped[b]}
		_, v.wasDirty = r.dirty[b]
		delete(r.dirty, b)
		if c := r.camByNum[v.m.camera]; c != nil {
			v.cam = c.name
		}
		if v.m.state != stateErasing {
			r.pending = append(r.pending, v.dropped...)
			if v.wasDirty {
				r.dirty[b] = struct{}{}
			}
			errs = append(errs, fmt.Errorf("ring: erase block %d in state %s", b, v.m.state))
			continue
		}
		vs = append(vs, v)
	}
	r.mu.Unlock()
	if len(vs) == 0 {
		return errors.Join(errs...)
	}
	fail := func(err error) error { return errors.Join(append(errs, err)...) }

	err := r.update(func(tx *bolt.Tx) error {
		for _, v := range vs {
			if r.failEraseMark != nil {
				if err := r.failEraseMark(v.b); err != nil {
					return err
				}
			}
			if err := tx.Bucket(bktBlocks).Put(u32key(v.b), v.enc); err != nil {
				return err
			}
			bk := fragBucket(tx, v.m.camera)
			if bk == nil || !v.m.hasFragments() {
				continue
			}
			// Entries of this block start within [first, last]; collect
			// then delete (deleting under a moving cursor skips keys).
			var del [][]byte
			cur := bk.Cursor()
			for k, e := cur.Seek(timeKey(v.m.first, 0)); k != nil && keyStart(k) <= v.m.last; k, e = cur.Next() {
				if fe, err := decodeFragEntry(e); err == nil && fe.block == v.b {
					del = append(del, append([]byte(nil), k...))
				}
			}
			for _, k := range del {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		r.mu.Lock()
		for _, v := range vs {
			if v.m.markedErasing() {
				continue
			}
			if m := r.blocks[v.b]; m.state == stateErasing {
				m.state, m.reason = stateSealed, reasonNone
				r.setMetaLocked(v.b, m)
			}
			r.pending = append(v.dropped, r.pending...)
			if v.wasDirty {
				r.dirty[v.b] = struct{}{}
			}
		}
		r.mu.Unlock()
		return fail(r.noteWriteError("erase: mark block", err))
	}
	r.mu.Lock()
	for _, v := range vs {
		m := r.blocks[v.b]
		m.flags |= flagMarked
		r.setMetaLocked(v.b, m) // out of its camera's tree: nothing of it is indexed now
	}
	r.mu.Unlock()
	plain := false
	for _, v := range vs {
		if v.m.plain {
			// A plaintext block of an earlier release: only overwriting
			// erases it. The whole block, not just [0, used): a torn write
			// may have left bytes beyond used.
			if err := r.zeroRange(int64(v.b)*r.bs, r.bs); err != nil {
				return fail(r.noteWriteError("erase: zero block", err))
			}
			plain = true
		}
	}
	if plain {
		if err := r.fdatasync(); err != nil {
			return fail(r.noteWriteError("erase: fdatasync", err))
		}
	}
	ks := make([]blockGen, len(vs))
	for i, v := range vs {
		ks[i] = blockGen{v.b, v.m.gen}
	}
	if err := r.destroyKeys(ks); err != nil {
		return fail(err)
	}
	var proofs []core.Erasure
	now := r.o.Now().UTC()
	for _, v := range vs {
		if v.m.used == 0 && !v.m.hasFragments() {
			continue
		}
		from, to := now, now
		if v.m.hasFragments() {
			from, to = time.Unix(0, v.m.first).UTC(), time.Unix(0, v.m.last).UTC()
		}
		proofs = append(proofs, core.Erasure{Camera: v.cam, From: from, To: to, ErasedAt: now,
			Block: v.b, Generation: v.m.gen, Bytes: int64(v.m.used), Reason: reasonString(v.m.reason)})
	}
	if err := r.recordErasures(proofs); err != nil {
		return fail(err)
	}
	// Freed, and leased in the same commit: a camera may take them at once.
	r.mu.Lock()
	lease := r.leaseListLocked()
	for _, v := range vs {
		if _, ok := r.lease[v.b]; !ok {
			lease = append(lease, v.b)
		}
	}
	credits, clk := slices.Clone(r.credits), r.clock.state()
	r.mu.Unlock()
	err = r.update(func(tx *bolt.Tx) error {
		for _, v := range vs {
			free := blockMeta{state: stateFree, gen: v.m.gen + 1}
			if err := tx.Bucket(bktBlocks).Put(u32key(v.b), free.encode(nil)); err != nil {
				return err
			}
		}
		return putState(tx.Bucket(bktMeta), clk, lease, credits)
	})
	if err != nil {
		return fail(r.noteWriteError("erase: free block", err))
	}
	r.mu.Lock()
	for _, b := range lease {
		r.lease[b] = struct{}{}
	}
	for _, v := range vs {
		r.setMetaLocked(v.b, blockMeta{state: stateFree, gen: v.m.gen + 1})
	}
	r.mu.Unlock()
	for _, v := range vs {
		if v.m.used > 0 || v.m.hasFragments() { // as proven to the ledger above
			r.countErasure(reasonString(v.m.reason), int64(v.m.used))
		}
		r.forgetDamage(v.b, v.m.gen)
		r.log.Debug("block erased", "block", v.b, "camera", v.cam, "gen", v.m.gen, "bytes", v.m.used, "reason", reasonString(v.m.reason))
	}
	return errors.Join(errs...)
}

// recordErasures hands a batch's proofs to the ledger: in one call when
// it records batches (core.Store.RecordErasures, one commit), else one
// call per proof.
func (r *Ring) recordErasures(ps []core.Erasure) error {
	if len(ps) == 0 || r.o.Erasures == nil {
		return nil
	}
	if bl, ok := r.o.Erasures.(ErasureBatchLog); ok {
		if err := bl.RecordErasures(ps); err != nil {
			return fmt.Errorf("ring: record erasure of %d blocks (first %d): %w", len(ps), ps[0].Block, err)
		}
		return nil
	}
	for _, p := range ps {
		if err := r.o.Erasures.RecordErasure(p); err != nil {
			return fmt.Errorf("ring: record erasure of block %d: %w", p.Block, err)
		}
	}
	return nil
}

// blockGen is a block and the generation whose key is destroyed.
type blockGen struct {
	b   uint32
	gen uint64
}

// destroyKeys overwrites each block's key slot with a fresh key for the
// next generation and syncs keys.dat once: the keys of the generations
// given are gone from disk. Redoing it (after a crash) just draws other
// fresh keys.
//
// The caller holds syncMu, which serializes erasures; keyMu is held only
// for each slot write, not the sync, so readers of other blocks' keys do
// not wait for the disk.
func (r *Ring) destroyKeys(ks []blockGen) error {
	done := r.io.begin()
	defer done()
	for _, k := range ks {
		r.keyMu.Lock()
		err := r.keys.put(k.b, k.gen+1)
		r.keyMu.Unlock()
		if err != nil {
			return r.noteWriteError("erase: overwrite key", err)
		}
	}
	if err := r.keys.sync(); err != nil {
		return r.noteWriteError("erase: sync keys.dat", err)
	}
	return nil
}

// Sweep enforces retention on ring time: it seals idle open blocks,
// retries unfinished erasures, erases every sealed, unheld block whose
// last append is more than Retention of ring time ago, and drops init
// segments no fragment references. The wall clock plays no part: a step
// forward or back neither erases young footage nor ends a hold early.
//
// It reads no more of the block table than it erases: unfinished
// erasures come from the erasing set, expired blocks from the front of
// the erasure order (book.go), in batches of up to maxEraseBatch, syncMu
// taken per batch so appends go on between batches.
func (r *Ring) Sweep() error {
	_, err := r.sweep(0, nil)
	return err
}

// sweepSlice is how many batches of expired blocks Run erases before it
// lets its other work run (sweep's maxBatches). After hours switched off
// a ring has thousands of expired blocks; erasing them in one go held up
// the data and index syncs of Run's loop for the whole catch-up, so the
// power-loss bound (≤ 1.5 s of footage) did not hold while it lasted.
const sweepSlice = 4

// catchUpPause is how long Run waits between slices of a catch-up, so the
// burst of erasures shares the disk and CPU with recording and consoles.
// At 64 expired blocks per slice it still erases far faster than footage
// expires (8 blocks/s at 64 cameras × 4 Mbit/s with 4 MiB blocks).
const catchUpPause = 50 * time.Millisecond

// sweepRound is where Run's sliced sweep resumes: the unfinished
// erasures are retried once per round (a round ends when a slice reports
// nothing more), a slice at a time like the expired blocks. After a
// ledger outage of hours thousands of blocks are left erasing; finishing
// them in one go held up Run's syncs as a catch-up did, and retrying
// them all in every slice would be quadratic while the outage lasts.
type sweepRound struct {
	next    uint32 // the unfinished erasures' pass resumes at this block
	retried bool   // that pass is done for this round
}

// sweep is Sweep erasing at most maxBatches batches (0: all, round
// unused) of unfinished erasures and expired blocks together, resuming
// round; more reports that work remains.
func (r *Ring) sweep(maxBatches int, round *sweepRound) (more bool, _ error) {
	if maxBatches <= 0 {
		round = &sweepRound{}
	}
	batches := 0
	budget := func() bool { return maxBatches > 0 && batches >= maxBatches }
	if r.isClosed() {
		return false, ErrClosed
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
			if m.used > 0 && now-r.effE(c.openedE) >= span {
				r.sealLocked(c)
			}
		}
		r.mu.Unlock()
		c.mu.Unlock()
	}

	var errs []error
	// Unfinished erasures, each once a round, in block order. Each batch
	// is checked against holds read right before it.
	for next := round.next; !round.retried; {
		if budget() {
			round.next = next
			return true, errors.Join(errs...)
		}
		r.syncMu.Lock()
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			r.syncMu.Unlock()
			return false, errors.Join(append(errs, ErrClosed)...)
		}
		r.activeHoldsLocked()
		var erase []uint32
		for len(erase) < r.o.eraseBatch {
			b, ok := r.erasing.next(next)
			if !ok {
				break
			}
			next = b + 1
			m := r.blocks[b]
			switch {
			case m.markedErasing():
				erase = append(erase, b) // committed: finish it, holds or not
			case m.held():
				// Step 1 never committed: the block is still indexed, so a
				// hold placed since it was picked protects it.
				m.state, m.reason = stateSealed, reasonNone
				r.setMetaLocked(b, m)
			default:
				erase = append(erase, b)
			}
		}
		r.mu.Unlock()
		if len(erase) == 0 {
			r.syncMu.Unlock()
			round.retried = true
			break
		}
		if err := r.eraseBlocks(erase); err != nil {
			errs = append(errs, err)
		}
		r.syncMu.Unlock()
		batches++
	}
	// Expired blocks, oldest first.
	for ; r.o.Retention > 0; batches++ {
		if budget() {
			r.mu.Lock()
			b, ok := r.order.Min()
			more = ok && now-r.effE(r.blocks[b].lastE) >= int64(r.o.Retention)
			r.mu.Unlock()
			if more {
				return true, errors.Join(errs...)
			}
			break
		}
		r.syncMu.Lock()
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			r.syncMu.Unlock()
			return false, errors.Join(append(errs, ErrClosed)...)
		}
		r.activeHoldsLocked()
		var erase []uint32
		r.order.Ascend(func(b uint32) bool {
			if now-r.effE(r.blocks[b].lastE) < int64(r.o.Retention) {
				return false
			}
			erase = append(erase, b)
			return len(erase) < r.o.eraseBatch
		})
		for _, b := range erase {
			r.markErasingLocked(b, reasonRetention)
		}
		r.mu.Unlock()
		if len(erase) == 0 {
			r.syncMu.Unlock()
			break
		}
		err := r.eraseBlocks(erase)
		r.syncMu.Unlock()
		if err != nil {
			errs = append(errs, err)
			// Blocks whose erasure never began are sealed again, and the
			// front of the order again: stop rather than retry them now.
			// (Blocks whose keys are gone stay erasing; the next batch
			// goes on, so a ledger outage does not keep expired footage.)
			r.mu.Lock()
			back := r.blocks[erase[0]].state == stateSealed
			r.mu.Unlock()
			if back {
				break
			}
		}
	}
	*round = sweepRound{} // the round is over: the next one retries from the start
	r.syncMu.Lock()
	if err := r.gcInitsLocked(); err != nil {
		errs = append(errs, err)
	}
	r.syncMu.Unlock()
	return false, errors.Join(errs...)
}

// checkClock looks for a wall-clock step; a step found is queued for the
// event log (once) and shown in Stats.
func (r *Ring) checkClock() {
	r.clock.check()
	for _, s := range r.clock.takePending() {
		r.log.Warn("wall clock stepped; retention and holds keep ring time", "by", s.By, "now", s.At)
		r.event("", "clock-step", map[string]string{"by": s.By.String(), "wall_now": s.At.Format(time.RFC3339Nano)})
	}
	// Under r.mu, so that a commit takes the clock and the credits
	// (putState) both from before or both from after.
	r.mu.Lock()
	credit, bootE, ok := r.clock.confirm()
	if ok {
		r.creditDowntimeLocked(credit, bootE)
	}
	r.mu.Unlock()
	if ok {
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
	type dead struct{ cam, id uint32 }
	var drop []dead
	for _, c := range r.cams {
		for id := range c.inits {
			if id != c.lastInit && c.initRefs[id] == 0 {
				drop = append(drop, dead{c.num, id})
			}
		}
	}
	r.mu.Unlock()
	if len(drop) == 0 {
		return nil
	}
	err := r.update(func(tx *bolt.Tx) error {
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
