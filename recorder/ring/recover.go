package ring

import (
	"crypto/sha256"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// recover brings the index up to the ring after an unclean stop: it indexes
// the valid records past each open block's indexed end, zeroes a torn tail,
// adopts blocks allocated after the last commit, keeps one open block per
// camera, and finishes interrupted erasures. Runs single-threaded in Open.
func (r *Ring) recover() error {
	changed := map[uint32]struct{}{}
	adopted := map[uint32]bool{}
	// A free block whose first record carries its current generation was
	// taken after the last commit: it is that camera's open block.
	hdr := make([]byte, hdrSize)
	for i, m := range r.blocks {
		if m.state != stateFree {
			continue
		}
		if err := r.readAt(hdr, int64(i)*r.bs); err != nil {
			return fmt.Errorf("ring: recovery read: %w", err)
		}
		h, err := decodeHeader(hdr)
		if err != nil || h.Gen != m.gen || r.camByNum[h.Camera] == nil {
			continue
		}
		r.blocks[i] = blockMeta{state: stateOpen, camera: h.Camera, gen: m.gen}
		changed[uint32(i)] = struct{}{}
		adopted[uint32(i)] = true
	}

	var entries []pendingEntry
	zeroed := false
	for i, m := range r.blocks {
		if m.state != stateOpen {
			continue
		}
		c := r.camByNum[m.camera]
		if c == nil {
			r.log.Error("open block of unknown camera; sealing it", "block", i, "camera", m.camera)
			r.blocks[i].state = stateSealed
			changed[uint32(i)] = struct{}{}
			continue
		}
		n, z, err := r.scanTail(uint32(i), c, &entries)
		if err != nil {
			return err
		}
		zeroed = zeroed || z
		if n > 0 || z {
			changed[uint32(i)] = struct{}{}
		}
		if n == 0 && adopted[uint32(i)] {
			// Nothing valid in it after all: it stays free.
			r.blocks[i] = blockMeta{state: stateFree, gen: m.gen}
			continue
		}
		r.blocks[i].openedAt = r.o.Now().UnixNano()
	}

	// One open block per camera: the newest; older ones are sealed.
	for _, c := range r.cams {
		best := -1
		for i, m := range r.blocks {
			if m.state != stateOpen || m.camera != c.num {
				continue
			}
			if best < 0 || m.last > r.blocks[best].last ||
				(m.last == r.blocks[best].last && m.used > r.blocks[best].used) {
				if best >= 0 {
					r.blocks[best].state = stateSealed
					changed[uint32(best)] = struct{}{}
				}
				best = i
			} else {
				r.blocks[i].state = stateSealed
				changed[uint32(i)] = struct{}{}
			}
		}
		c.open = int64(best)
	}

	if zeroed || len(entries) > 0 {
		if err := r.fdatasync(); err != nil {
			return r.noteWriteError("recovery fdatasync", err)
		}
	}
	if len(changed) > 0 || len(entries) > 0 {
		err := r.db.Update(func(tx *bolt.Tx) error {
			for _, e := range entries {
				if err := tx.Bucket(bktFrags).Bucket(u32key(e.cam)).Put(e.key, e.val); err != nil {
					return err
				}
			}
			for b := range changed {
				if err := tx.Bucket(bktBlocks).Put(u32key(b), r.blocks[b].encode()); err != nil {
					return err
				}
			}
			for _, c := range r.cams {
				cr := cameraRec{num: c.num, nextSeq: c.nextSeq, lastInit: c.lastInit, maxInit: c.maxInit}
				if err := tx.Bucket(bktCameras).Put([]byte(c.name), cr.encode()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return r.noteWriteError("recovery commit", err)
		}
		r.log.Info("ring recovered", "records", len(entries), "blocks", len(changed))
	}

	for i, m := range r.blocks {
		if m.state != stateErasing {
			continue
		}
		if err := r.eraseBlock(uint32(i)); err != nil {
			r.log.Error("pending erasure not finished; the sweeper retries", "block", i, "err", err)
		}
	}
	return nil
}

// scanTail indexes the valid records of open block b past its indexed end
// and zeroes the first invalid one (a torn write or a previous lap's
// leftover). It returns how many records it found and whether it zeroed.
func (r *Ring) scanTail(b uint32, c *camera, entries *[]pendingEntry) (int, bool, error) {
	m := &r.blocks[b]
	base := int64(b) * r.bs
	buf := make([]byte, r.bs-m.used)
	if err := r.readAt(buf, base+m.used); err != nil {
		return 0, false, fmt.Errorf("ring: recovery read block %d: %w", b, err)
	}
	pos, n := int64(0), 0
	for pos+hdrSize <= int64(len(buf)) {
		h, payload, size, err := decodeRecord(buf[pos:])
		if err != nil || h.Gen != m.gen || h.Camera != m.camera || pos+size > int64(len(buf)) {
			break
		}
		if h.Kind == kindFragment {
			start, end := h.Start, h.Start+h.Dur
			if !m.hasFragments() {
				m.first, m.last = start, end
			} else {
				m.first, m.last = min(m.first, start), max(m.last, end)
			}
			m.addInit(h.InitID)
			e := fragEntry{block: b, offset: m.used + pos, length: h.Length, dur: h.Dur,
				flags: h.Flags, initID: h.InitID, sha: sha256.Sum256(payload), gen: m.gen}
			*entries = append(*entries, pendingEntry{cam: c.num, block: b, key: timeKey(start, h.Seq), val: e.encode()})
		}
		c.nextSeq = max(c.nextSeq, h.Seq+1)
		pos += size
		n++
	}
	tailAt := m.used + pos
	m.used = tailAt
	rest := buf[pos:]
	if len(rest) == 0 {
		return n, false, nil
	}
	// Zero everything after the tail that is not zero yet: the torn record
	// and anything a power loss left beyond a hole (a later write that
	// reached the disk when an earlier one did not).
	end := int64(len(rest))
	for end > 0 && rest[end-1] == 0 {
		end--
	}
	if end == 0 {
		return n, false, nil
	}
	span := min((end+4095)&^4095, int64(len(rest)))
	r.log.Warn("torn or stale record at block tail; zeroing it", "block", b, "offset", tailAt, "bytes", span)
	if err := r.zeroRange(base+tailAt, span); err != nil {
		return n, false, r.noteWriteError("recovery zero tail", err)
	}
	return n, true, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
