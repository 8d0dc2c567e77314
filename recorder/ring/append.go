package ring

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Fragment is one fMP4 fragment (moof+mdat) of a camera, stored bit exact.
type Fragment struct {
	Camera        string
	Start         time.Time
	Duration      time.Duration
	Keyframe      bool
	Discontinuity bool
	InitID        uint32 // from AppendInit: the init segment this fragment decodes with
	Payload       []byte
	// Tail, if set, is stored right after Payload as one payload: a caller
	// holding a fragment in two pieces need not join them. Neither is
	// kept after AppendFragment returns.
	Tail []byte
	// Body, if set, is stored after Tail, piece by piece (ingest buffers
	// fragments in chunks); not kept either.
	Body [][]byte
}

// camera returns the camera's state, registering it in the index on first
// use. Registration commits at once: it is rare, and later records carry
// the camera number.
func (r *Ring) camera(name string) (*camera, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty camera name", ErrInvalid)
	}
	r.mu.Lock()
	c, closed := r.cams[name], r.closed
	r.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if c != nil {
		return c, nil
	}
	r.regMu.Lock()
	defer r.regMu.Unlock()
	r.mu.Lock()
	c = r.cams[name]
	r.mu.Unlock()
	if c != nil {
		return c, nil
	}
	var cr cameraRec
	err := r.update(func(tx *bolt.Tx) error {
		seq, err := tx.Bucket(bktCameras).NextSequence()
		if err != nil {
			return err
		}
		cr = cameraRec{num: uint32(seq), nextSeq: 1}
		if _, err := tx.Bucket(bktFrags).CreateBucketIfNotExists(u32key(cr.num)); err != nil {
			return err
		}
		return tx.Bucket(bktCameras).Put([]byte(name), cr.encode())
	})
	if err != nil {
		return nil, r.noteWriteError("register camera", err)
	}
	c = newCamera(name, cr)
	r.mu.Lock()
	c.tree = r.newCameraTree()
	r.cams[name] = c
	r.camByNum[c.num] = c
	r.mu.Unlock()
	return c, nil
}

func (r *Ring) lookupCamera(name string) (*camera, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cams[name]
	return c, ok
}

// AppendInit stores a camera's init segment (ftyp+moov) as a record in the
// ring and in index.db, and returns its id. The same bytes again return the
// same id. The index copy outlives the ring block so playback always has it.
func (r *Ring) AppendInit(cameraName string, init []byte) (uint32, error) {
	if len(init) == 0 {
		return 0, fmt.Errorf("%w: empty init segment", ErrInvalid)
	}
	c, err := r.camera(cameraName)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sum := sha256.Sum256(init)
	// The same init again (A, then B, then A): it becomes the current init
	// again, in memory and in the index, so gcInits keeps it while the
	// camera records with it. regMu orders this against gcInits.
	r.regMu.Lock()
	r.mu.Lock()
	id, ok := c.initBySHA[sum]
	if ok {
		_, ok = c.inits[id]
	}
	next := max(c.maxInit, c.lastInit) + 1
	if !ok || c.lastInit == id {
		r.mu.Unlock()
		r.regMu.Unlock()
		if ok {
			return id, nil
		}
	} else {
		c.lastInit = id
		cr := cameraRec{num: c.num, nextSeq: c.nextSeq, lastInit: id, maxInit: c.maxInit}
		r.mu.Unlock()
		err := r.update(func(tx *bolt.Tx) error {
			return tx.Bucket(bktCameras).Put([]byte(c.name), cr.encode())
		})
		if err != nil {
			// Committed with the camera's next Sync instead.
			r.mu.Lock()
			r.camDirty[c.num] = struct{}{}
			r.mu.Unlock()
		}
		r.regMu.Unlock()
		if err != nil {
			return 0, r.noteWriteError("store current init", err)
		}
		return id, nil
	}
	id = next
	if _, _, err := r.appendRecord(c, kindInit, 0, r.o.Now().UnixNano(), 0, id, [][]byte{init}, nil); err != nil {
		return 0, err
	}
	r.regMu.Lock()
	err = r.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bktInits).Put(initKey(c.num, id), init); err != nil {
			return err
		}
		r.mu.Lock()
		cr := cameraRec{num: c.num, nextSeq: c.nextSeq, lastInit: id, maxInit: c.maxInit}
		r.mu.Unlock()
		return tx.Bucket(bktCameras).Put([]byte(c.name), cr.encode())
	})
	r.regMu.Unlock()
	if err != nil {
		return 0, r.noteWriteError("store init", err)
	}
	r.mu.Lock()
	c.lastInit = id
	c.maxInit = max(c.maxInit, id)
	c.inits[id] = struct{}{}
	c.initBySHA[sum] = id
	r.mu.Unlock()
	return id, nil
}

// AppendFragment writes f into the camera's open block. It is durable and
// visible to Fragments after the next Sync (at most SyncInterval later).
// Errors (full ring, I/O) are returned; nothing is dropped silently.
func (r *Ring) AppendFragment(f Fragment) error {
	parts := append([][]byte{f.Payload, f.Tail}, f.Body...)
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 || f.Duration < 0 || f.Start.IsZero() {
		return fmt.Errorf("%w: fragment needs a payload, a start and a non-negative duration", ErrInvalid)
	}
	c, err := r.camera(f.Camera)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r.mu.Lock()
	_, known := c.inits[f.InitID]
	r.mu.Unlock()
	if !known {
		return fmt.Errorf("%w: camera %s init %d", ErrUnknownInit, f.Camera, f.InitID)
	}
	var flags uint16
	if f.Keyframe {
		flags |= flagKeyframe
	}
	if f.Discontinuity {
		flags |= flagDiscontinuity
	}
	start, dur := f.Start.UnixNano(), int64(f.Duration)
	_, _, err = r.appendRecord(c, kindFragment, flags, start, dur, f.InitID, parts,
		func(b uint32, off int64, m *blockMeta, seq uint64, w int64) {
			// appendRecord took a new block for a start before this one's
			// first: first is set once, so the block keeps its place in
			// the camera's tree.
			if !m.hasFragments() {
				m.first, m.last = start, start+dur
				m.flags |= flagRun
				if m.flags&flagCam != 0 && m.hasFragments() {
					c.tree.ReplaceOrInsert(b)
				}
			} else {
				// Coverage's rule (query.go), against the camera's
				// previous fragment, which is in this block.
				if start < c.runStart || start-m.last > runGap(c.runDur, dur) {
					m.flags &^= flagRun
				}
				if start < m.first { // not expected (see above); keep the tree right anyway
					inTree := m.flags&flagCam != 0
					if inTree {
						c.tree.Delete(b)
					}
					m.first = start
					if inTree {
						c.tree.ReplaceOrInsert(b)
					}
				}
				m.last = max(m.last, start+dur)
			}
			c.runStart, c.runDur = start, dur
			c.maxExtent = max(c.maxExtent, m.last-m.first)
			r.addInitLocked(b, c, f.InitID)
			e := fragEntry{block: b, offset: off, length: uint32(n), dur: dur,
				flags: flags, initID: f.InitID, gen: m.gen}
			r.pending = append(r.pending, pendingEntry{cam: c.num, block: b,
				key: timeKey(start, seq), val: e.encode(), w: w})
			c.rate.add(int64(n), dur)
		})
	return err
}

// scratchSize is one sealing buffer: a fragment is sealed and written in
// runs of 256 KiB (two for a second of 4 Mbit/s). Every camera blocked in
// a write holds one, so at 64 cameras on a busy disk 1 MiB runs cost about
// 15 MiB more RSS than these (BenchmarkServe) for one pwrite fewer.
const scratchSize = 256<<10 + (256<<10/sealChunk)*tagSize + 8

// appendRecord encrypts one record with c's open block key and writes it
// into the block (taking a new block when needed); it returns where.
// Caller holds c.mu. The block's used size advances only after a
// successful write, in the same r.mu section as written (which queues the
// index entry) so a Sync never sees one without the other.
func (r *Ring) appendRecord(c *camera, kind uint8, flags uint16, start, dur int64, initID uint32, parts [][]byte,
	written func(b uint32, off int64, m *blockMeta, seq uint64, w int64)) (uint32, int64, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	size := recordSize(recV2, n)
	if size > r.bs {
		return 0, 0, fmt.Errorf("%w: %d bytes, block is %d", ErrTooLarge, size, r.bs)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, 0, ErrClosed
	}
	need := c.open < 0
	if !need {
		m := r.blocks[c.open]
		span := int64(r.o.MaxBlockSpan)
		need = int64(m.used)+size > r.bs ||
			(kind == kindFragment && m.hasFragments() && (start-m.first >= span || start < m.first))
	}
	r.mu.Unlock()
	if need {
		if err := r.takeBlock(c); err != nil {
			return 0, 0, err
		}
	}
	r.mu.Lock()
	b := uint32(c.open)
	m := r.blocks[b]
	seq := c.nextSeq
	r.mu.Unlock()
	if c.aeadBlock != int64(b) || c.aeadGen != m.gen || c.aead == nil {
		c.aead, c.aeadBlock, c.aeadGen = r.aeadFor(b, m.gen), int64(b), m.gen
		if c.aead == nil {
			return 0, 0, r.noteWriteError("append", fmt.Errorf("%w: no key for block %d generation %d", ErrCorrupt, b, m.gen))
		}
	}
	off := int64(b)*r.bs + int64(m.used)
	if err := r.sealAndWrite(c, off, recHeader{Kind: kind, Flags: flags, Length: uint32(n), Camera: c.num, Gen: m.gen,
		Seq: seq, Start: start, Dur: dur, InitID: initID, Nonce: rand.Uint64()}, size, parts); err != nil {
		return 0, 0, r.noteWriteError("append", err)
	}
	w := r.written.Add(size)
	now := r.clock.now()
	r.mu.Lock()
	if m.used == 0 {
		c.openedE = now
	}
	r.blocks[b].used = m.used + uint32(size)
	r.blocks[b].lastE = now
	r.usedBytes += size
	if r.blocks[b].flags&flagCam != 0 {
		c.bytes += size
	}
	if written != nil {
		written(b, int64(m.used), &r.blocks[b], seq, w)
	}
	r.dirty[b] = struct{}{}
	c.nextSeq++
	r.camDirty[c.num] = struct{}{}
	r.mu.Unlock()
	return b, int64(m.used), nil
}

// sealAndWrite encrypts the parts (one payload) into a pooled scratch buffer and
// writes the record at off: the sealed body first, the header (with the
// CRC over both) last, so a torn write never leaves a valid header. The
// fragment is copied once, into the scratch it is sealed in.
func (r *Ring) sealAndWrite(c *camera, off int64, h recHeader, size int64, parts [][]byte) error {
	sp := r.scratch.Get().(*[]byte)
	defer r.scratch.Put(sp)
	c.seal.begin(c.aead, h, *sp)
	pos := off + hdrV2
	pad := int(size - hdrV2 - bodySize(recV2, int(h.Length)))
	err := c.seal.sealParts(int(h.Length), parts, pad, func(b []byte) error {
		if err := r.writeAt(pos, b); err != nil {
			return err
		}
		pos += int64(len(b))
		return nil
	})
	*sp = c.seal.scratch[:0]
	if err != nil {
		return err
	}
	return r.writeAt(off, c.seal.header())
}

// takeBlock seals c's open block and gives c a new one: a free block
// (normally from the reserve Run keeps erased), or else the oldest sealed
// block no hold protects, erased here first ("overwrite"). Caller holds c.mu.
func (r *Ring) takeBlock(c *camera) error {
	r.mu.Lock()
	r.sealLocked(c)
	if r.assignFreeLocked(c) {
		r.mu.Unlock()
		r.pokeReserve()
		return nil
	}
	r.mu.Unlock()
	r.pokeReserve()

	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return ErrClosed
		}
		if r.assignFreeLocked(c) {
			r.mu.Unlock()
			return nil
		}
		if r.free.len() > 0 {
			// Free blocks, but none in the lease: lease them first.
			r.mu.Unlock()
			if err := r.renewLease(); err != nil {
				return err
			}
			continue
		}
		// Holds read now, not before waiting for syncMu: one placed
		// meanwhile protects its block.
		r.activeHoldsLocked()
		v := r.oldestUnheldLocked()
		if v < 0 {
			starved := c.starvedSince.IsZero()
			if starved {
				c.starvedSince = r.o.Now().UTC()
			}
			r.mu.Unlock()
			if starved {
				r.event(c.name, "camera-starved", map[string]string{"detail": "no ring block free or erasable (all open or held)"})
			}
			return r.noteWriteError("allocate block", fmt.Errorf("%w (camera %s)", ErrRingFull, c.name))
		}
		r.markErasingLocked(uint32(v), reasonOverwrite)
		r.mu.Unlock()
		r.inlineErasures.Add(1)
		if err := r.eraseBlock(uint32(v)); err != nil {
			// Stop at the first failure (as RefillReserve does): going on to
			// the next oldest block would, with the ledger down, zero the
			// whole ring and leave nothing to record into. The block is
			// back to sealed or waits in erasing for the sweeper.
			r.errorByRate("overwrite erasure failed", "overwrite erasure failed", "block", v, "err", err)
			return err
		}
	}
}

// sealLocked closes c's open block for appends. Caller holds c.mu and
// r.mu.
func (r *Ring) sealLocked(c *camera) {
	if c.open < 0 {
		return
	}
	m := r.blocks[c.open]
	m.state = stateSealed
	r.setMetaLocked(uint32(c.open), m)
	r.dirty[uint32(c.open)] = struct{}{}
	c.open = -1
	// Drop the sealed block's cipher: a camera that went quiet would
	// otherwise keep that block's key schedule in memory past its erasure.
	c.aead, c.aeadBlock = nil, -1
}

// assignFreeLocked gives c the lowest free block in the durable lease
// (book.go); false when there is none. Caller holds r.mu.
func (r *Ring) assignFreeLocked(c *camera) bool {
	b, ok := r.avail.next(0)
	if !ok {
		return false
	}
	r.setMetaLocked(b, blockMeta{state: stateOpen, camera: c.num, gen: r.blocks[b].gen})
	r.dirty[b] = struct{}{}
	c.open = int64(b)
	if !c.starvedSince.IsZero() {
		c.starvedSince = time.Time{}
		r.eventLocked(c.name, "camera-starved-end", nil)
	}
	return true
}

// renewLease commits a new lease of the lowest free blocks, for an
// append that found the lease used up while free blocks remain. Caller
// holds syncMu (leases are written under it).
func (r *Ring) renewLease() error {
	r.mu.Lock()
	// Blocks taken under the current lease are still free in the index
	// until the next Sync commits them: they stay leased, so recovery
	// still reads them.
	want := r.leaseWantLocked()
	for b := range r.lease {
		if r.blocks[b].state != stateFree {
			want = append(want, b)
		}
	}
	r.narrowLeaseLocked(want)
	credits, clk := slices.Clone(r.credits), r.clock.state()
	r.mu.Unlock()
	err := r.update(func(tx *bolt.Tx) error { return putState(tx.Bucket(bktMeta), clk, want, credits) })
	if err != nil {
		return r.noteWriteError("commit lease", err)
	}
	r.mu.Lock()
	r.leaseCommittedLocked(want)
	r.mu.Unlock()
	return nil
}
