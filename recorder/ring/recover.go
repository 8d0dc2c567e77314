package ring

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// recover brings the index up to the ring after a stop: it indexes the
// valid records past each open block's indexed end, adopts blocks taken
// after the last commit, seals every open block, gives blocks of an
// earlier release their ring time, and finishes interrupted erasures.
// Runs single-threaded in Open.
//
// Open blocks are sealed rather than appended to again: after a power
// loss the bytes past the last valid record may be a torn record, a hole
// with later records behind it, or a previous lap's ciphertext, and a
// block that is only ever appended to within one run never needs them
// zeroed (they are erased with the block's key). The cost is one partly
// filled block per camera per restart.
func (r *Ring) recover() error {
	changed := map[uint32]struct{}{}
	now, wall := r.clock.now(), r.o.Now().UnixNano()
	for i := range r.blocks {
		m := &r.blocks[i]
		if m.flags&flagLegacy == 0 {
			continue
		}
		// Written before ring time: age it by the wall clock, once.
		m.lastE = now
		if m.hasFragments() {
			m.lastE = now - max(wall-m.last, 0)
		}
		m.flags &^= flagLegacy
		changed[uint32(i)] = struct{}{}
	}

	// A free block whose first record carries its current generation was
	// taken after the last commit: it was that camera's open block. Only
	// blocks in the durable lease can have been taken (book.go); without
	// one (an index of an earlier release) every free block is read.
	var cands []uint32
	if r.leaseOK {
		for b := range r.lease {
			if r.blocks[b].state == stateFree {
				cands = append(cands, b)
			}
		}
		slices.Sort(cands)
	} else {
		for i := range r.blocks {
			if r.blocks[i].state == stateFree {
				cands = append(cands, uint32(i))
			}
		}
	}
	adopted := map[uint32]bool{}
	hdr := make([]byte, hdrV2)
	for _, b := range cands {
		m := r.blocks[b]
		if err := r.readAt(hdr, int64(b)*r.bs); err != nil {
			return fmt.Errorf("ring: recovery read: %w", err)
		}
		h, err := decodeHeader(hdr)
		if err != nil || h.Version != recV2 || h.Gen != m.gen || r.camByNum[h.Camera] == nil {
			continue
		}
		r.blocks[b] = blockMeta{state: stateOpen, camera: h.Camera, gen: m.gen, lastE: now, flags: m.flags}
		changed[b] = struct{}{}
		adopted[b] = true
	}

	var entries []pendingEntry
	for i, m := range r.blocks {
		if m.state != stateOpen {
			continue
		}
		c := r.camByNum[m.camera]
		if c == nil {
			r.log.Error("open block of unknown camera; sealing it", "block", i, "camera", m.camera)
		} else {
			n, err := r.scanTail(uint32(i), c, &entries)
			if err != nil {
				return err
			}
			if n == 0 && adopted[uint32(i)] {
				// Nothing valid in it after all: it stays free.
				r.blocks[i] = blockMeta{state: stateFree, gen: m.gen}
				delete(r.moreInits, uint32(i))
				delete(changed, uint32(i))
				continue
			}
			if n > 0 {
				r.blocks[i].lastE = now
			}
		}
		r.blocks[i].state = stateSealed
		changed[uint32(i)] = struct{}{}
	}

	// Credited downtimes older than every stamp apply to nothing more.
	if len(r.credits) > 0 {
		oldest := int64(1<<63 - 1)
		for i := range r.blocks {
			if r.blocks[i].state != stateFree {
				oldest = min(oldest, r.blocks[i].lastE)
			}
		}
		cs := slices.DeleteFunc(slices.Clone(r.credits), func(c creditEntry) bool { return c.bootE < oldest })
		r.setCredits(cs)
	}
	// Every block booked, then the lease: the lowest free blocks, durable
	// with the commit below (Open is alone with the ring until it returns).
	r.lease = map[uint32]struct{}{}
	r.rebuild()
	lease := r.leaseWantLocked()
	r.leaseCommittedLocked(lease)

	{ // always: the clock state is committed on every open
		st := r.clock.state()
		err := r.update(func(tx *bolt.Tx) error {
			for _, e := range entries {
				if err := putFrag(fragBucket(tx, e.cam), e.key, e.val); err != nil {
					return err
				}
			}
			for b := range changed {
				if err := tx.Bucket(bktBlocks).Put(u32key(b), r.blocks[b].encode(r.initsOf(b))); err != nil {
					return err
				}
			}
			for _, c := range r.cams {
				cr := cameraRec{num: c.num, nextSeq: c.nextSeq, lastInit: c.lastInit, maxInit: c.maxInit}
				if err := tx.Bucket(bktCameras).Put([]byte(c.name), cr.encode()); err != nil {
					return err
				}
			}
			return putState(tx.Bucket(bktMeta), st, lease, r.credits)
		})
		if err != nil {
			return r.noteWriteError("recovery commit", err)
		}
		if len(entries) > 0 || len(changed) > 0 {
			r.log.Info("ring recovered", "records", len(entries), "blocks", len(changed))
		}
	}

	var erasing []uint32
	for b, ok := r.erasing.next(0); ok; b, ok = r.erasing.next(b + 1) {
		erasing = append(erasing, b)
	}
	for len(erasing) > 0 {
		n := min(len(erasing), r.o.eraseBatch)
		if err := r.eraseBlocks(erasing[:n]); err != nil {
			r.log.Error("pending erasures not finished; the sweeper retries", "blocks", n, "first", erasing[0], "err", err)
		}
		erasing = erasing[n:]
	}
	return nil
}

// scanTail indexes the valid records of open block b past its indexed end,
// up to the first record that does not check (torn, of another lap or
// generation, or not decrypting with the block's key). It returns how many
// records it found.
func (r *Ring) scanTail(b uint32, c *camera, entries *[]pendingEntry) (int, error) {
	m := &r.blocks[b]
	base := int64(b) * r.bs
	used := int64(m.used)
	buf := make([]byte, r.bs-used)
	if err := r.readAt(buf, base+used); err != nil {
		return 0, fmt.Errorf("ring: recovery read block %d: %w", b, err)
	}
	want := recV2
	if m.plain {
		want = recV1
	}
	aead := r.aeadFor(b, m.gen)
	pos, n := int64(0), 0
	for pos+hdrV1 <= int64(len(buf)) {
		h, body, size, err := checkRecord(buf[pos:])
		if err != nil || h.Version != want || h.Gen != m.gen || h.Camera != m.camera || pos+size > int64(len(buf)) {
			break
		}
		hl := int64(hdrLen(h.Version))
		if _, err := openBody(h, buf[pos:pos+hl], body, aead); err != nil {
			break
		}
		if h.Kind == kindFragment {
			start, end := h.Start, h.Start+h.Dur
			m.flags &^= flagRun // not checked against the run: Coverage reads this block
			if !m.hasFragments() {
				m.first, m.last = start, end
			} else {
				m.first, m.last = min(m.first, start), max(m.last, end)
			}
			r.addInitLocked(b, c, h.InitID)
			e := fragEntry{block: b, offset: used + pos, length: h.Length, dur: h.Dur,
				flags: h.Flags, initID: h.InitID, gen: m.gen}
			*entries = append(*entries, pendingEntry{cam: c.num, block: b, key: timeKey(start, h.Seq), val: e.encode()})
		}
		c.nextSeq = max(c.nextSeq, h.Seq+1)
		pos += size
		n++
	}
	m.used += uint32(pos)
	return n, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
