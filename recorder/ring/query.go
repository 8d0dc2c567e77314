package ring

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// FragmentRef locates one indexed fragment. Offset is the payload's byte
// offset within the block; Length is the payload length.
type FragmentRef struct {
	Camera   string
	Start    time.Time
	Duration time.Duration
	Block    uint32
	Offset   int64
	Length   int64
	Keyframe bool
	InitID   uint32

	gen    uint64   // block generation when indexed; 0 if unknown
	seq    uint64   // per-camera sequence (index key)
	sha    [32]byte // plaintext hash, in an earlier release's entry only
	hasSHA bool
}

// Seq is the fragment's place in the camera's recording order. Fragments
// come in start order; after the wall clock was stepped back two runs of
// footage share the same times, and only Seq tells them apart.
func (f FragmentRef) Seq() uint64 { return f.seq }

// Fragments returns the indexed fragments of camera overlapping [from, to)
// in start order, including the one that contains from. Fragments appended
// since the last Sync are not yet visible.
func (r *Ring) Fragments(camera string, from, to time.Time) ([]FragmentRef, error) {
	c, ok := r.lookupCamera(camera)
	if !ok {
		return nil, nil
	}
	var out []FragmentRef
	err := r.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktFrags).Bucket(u32key(c.num))
		if bk == nil {
			return nil
		}
		toNs := to.UnixNano()
		cur := bk.Cursor()
		fromKey := timeKey(from.UnixNano(), 0)
		k, _ := cur.Seek(fromKey)
		// The fragment that contains from starts before it.
		var pk, pv []byte
		if k == nil {
			pk, pv = cur.Last()
		} else {
			pk, pv = cur.Prev()
		}
		var v []byte
		if e, err := decodeFragEntry(pv); pk != nil && err == nil && keyStart(pk)+e.dur > from.UnixNano() {
			k, v = pk, pv
		} else {
			k, v = cur.Seek(fromKey)
		}
		for ; k != nil && keyStart(k) < toNs; k, v = cur.Next() {
			e, err := decodeFragEntry(v)
			if err != nil {
				return err
			}
			out = append(out, FragmentRef{
				Camera:   camera,
				Start:    time.Unix(0, keyStart(k)).UTC(),
				Duration: time.Duration(e.dur),
				Block:    e.block,
				Offset:   e.offset, // + the header, below
				Length:   int64(e.length),
				Keyframe: e.flags&flagKeyframe != 0,
				InitID:   e.initID,
				gen:      e.gen,
				sha:      e.sha,
				hasSHA:   e.hasSHA,
				seq:      binary.BigEndian.Uint64(k[8:]),
			})
		}
		return nil
	})
	// Payloads start after the header, whose size is the record version's
	// (an earlier release's plaintext blocks have version 1).
	r.mu.Lock()
	for i := range out {
		ver := recV2
		if b := out[i].Block; int(b) < r.nblocks && r.blocks[b].plain && r.blocks[b].state != stateFree {
			ver = recV1
		}
		out[i].Offset += int64(hdrLen(ver))
	}
	r.mu.Unlock()
	return out, err
}

// ReadFragment reads a fragment's payload, decrypts it and verifies its
// record CRC, its header against the index entry (camera, generation,
// length, start, seq), its GCM tags and, in an earlier release's entry,
// its SHA-256. It fails with ErrStale if the block was
// erased or reused since the ref was made, and with ErrDamaged if the
// stored bytes fail a check while the block is still current (the damage
// is then remembered, ledgered once and shown in Coverage and Stats).
func (r *Ring) ReadFragment(ref FragmentRef) ([]byte, error) {
	c, ok := r.lookupCamera(ref.Camera)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCamera, ref.Camera)
	}
	r.mu.Lock()
	var m blockMeta
	if int(ref.Block) < r.nblocks {
		m = r.blocks[ref.Block]
	}
	r.mu.Unlock()
	ver := recV2
	if m.plain {
		ver = recV1
	}
	hl := int64(hdrLen(ver))
	if int(ref.Block) >= r.nblocks || ref.Offset < hl || ref.Length <= 0 ||
		ref.Offset-hl+recordSize(ver, int(ref.Length)) > r.bs {
		return nil, fmt.Errorf("%w: ref out of range", ErrInvalid)
	}
	current := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		n := r.blocks[ref.Block]
		return (n.state == stateOpen || n.state == stateSealed) && n.camera == c.num && (ref.gen == 0 || ref.gen == n.gen)
	}
	if !current() {
		return nil, fmt.Errorf("%w: block %d", ErrStale, ref.Block)
	}
	if m.noKey() {
		return nil, r.noteDamage(c, ref, fmt.Errorf("the block's key is missing from keys.dat"))
	}
	aead := r.aeadFor(ref.Block, m.gen)
	buf := make([]byte, hl+bodySize(ver, int(ref.Length)))
	if err := r.readAt(buf, int64(ref.Block)*r.bs+ref.Offset-hl); err != nil {
		return nil, fmt.Errorf("ring: read fragment: %w", err)
	}
	// Erased or reused while being read: the key may be gone already and
	// the bytes another lap's; that is not damage.
	if !current() {
		return nil, fmt.Errorf("%w: block %d", ErrStale, ref.Block)
	}
	h, body, _, err := checkRecord(buf)
	if err != nil {
		return nil, r.noteDamage(c, ref, err)
	}
	if h.Kind != kindFragment || h.Version != ver || h.Camera != c.num || h.Gen != m.gen ||
		int64(h.Length) != ref.Length || h.Start != ref.Start.UnixNano() || h.Seq != ref.seq ||
		h.Dur != int64(ref.Duration) || h.InitID != ref.InitID || (h.Flags&flagKeyframe != 0) != ref.Keyframe {
		return nil, r.noteDamage(c, ref, fmt.Errorf("offset %d holds another record", ref.Offset))
	}
	payload, err := openBody(h, buf[:hl], body, aead)
	if err != nil {
		return nil, r.noteDamage(c, ref, err)
	}
	if ref.hasSHA && sha256.Sum256(payload) != ref.sha {
		return nil, r.noteDamage(c, ref, fmt.Errorf("SHA-256 mismatch in block %d offset %d", ref.Block, ref.Offset))
	}
	return payload, nil
}

// Init returns a camera's init segment by id.
func (r *Ring) Init(camera string, initID uint32) ([]byte, error) {
	c, ok := r.lookupCamera(camera)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCamera, camera)
	}
	var out []byte
	err := r.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktInits).Get(initKey(c.num, initID)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	if err == nil && out == nil {
		err = fmt.Errorf("%w: camera %s init %d", ErrUnknownInit, camera, initID)
	}
	return out, err
}

// Usage is what the ring holds of one camera.
type Usage struct {
	Oldest time.Time // oldest footage still on disk; zero if none
	Bytes  int64     // bytes in its open and sealed blocks
}

// Usages reports every camera's oldest footage and bytes from the
// bookkeeping (book.go), without walking the blocks (the console asks
// every second, for every camera).
func (r *Ring) Usages() map[string]Usage {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Usage, len(r.cams))
	for name, c := range r.cams {
		u := Usage{Bytes: c.bytes}
		if c.tree != nil {
			c.tree.Ascend(func(b uint32) bool {
				m := &r.blocks[b]
				if m.state == stateErasing { // chosen for erasure, being erased
					return true
				}
				if m.first != 0 {
					u.Oldest = time.Unix(0, m.first).UTC()
				}
				return false
			})
		}
		out[name] = u
	}
	return out
}

// CameraRetention is Usages for one camera.
func (r *Ring) CameraRetention(camera string) (oldest time.Time, bytes int64) {
	u := r.Usages()[camera]
	return u.Oldest, u.Bytes
}

// CheckHold reports whether holding camera's [from, to) on top of active
// fits HoldShare × Capacity. Existing footage counts whole blocks; the part
// of a range still in the future is estimated at the camera's recent byte
// rate. It returns an error wrapping core.ErrHoldCapacity when it does not
// fit.
func (r *Ring) CheckHold(camera string, from, to time.Time, active []core.HoldRange) error {
	if !to.After(from) {
		return fmt.Errorf("%w: hold range [%s, %s) is empty", ErrInvalid, from, to)
	}
	if r.o.HoldShare == 0 {
		return fmt.Errorf("%w: %w", core.ErrHoldCapacity, ErrNoHolds)
	}
	now := r.clock.trustedWall()
	limit := int64(r.o.HoldShare * float64(r.size()))
	r.mu.Lock()
	var holds []core.HoldRange
	var future int64
	add := func(h core.HoldRange) {
		holds = append(holds, h)
		future += r.futureBytesLocked(r.cams[h.Camera], h.From, h.To, now)
	}
	for _, h := range active {
		if h.Until.IsZero() || now.Before(h.Until) {
			add(h)
		}
	}
	usedByActive := int64(r.countCoveredLocked(holds))*r.bs + future
	add(core.HoldRange{Camera: camera, From: from, To: to})
	total := int64(r.countCoveredLocked(holds))*r.bs + future
	r.mu.Unlock()
	if total > limit {
		return fmt.Errorf("%w: holding %s [%s, %s) needs %d bytes; %d of the %d-byte hold limit are available",
			core.ErrHoldCapacity, camera, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339),
			total-usedByActive, max(limit-usedByActive, 0), limit)
	}
	return nil
}

// futureBytesLocked estimates the bytes of [from, to) not yet recorded,
// rounded up to whole blocks. With no rate known for c it uses the mean
// of the other cameras. Caller holds r.mu.
func (r *Ring) futureBytesLocked(c *camera, from, to, now time.Time) int64 {
	start := from
	if now.After(start) {
		start = now
	}
	if !to.After(start) {
		return 0
	}
	var rate float64
	if c != nil {
		rate = c.rate.bytesPerSec()
	}
	if rate == 0 {
		var sum float64
		var n int
		for _, o := range r.cams {
			if x := o.rate.bytesPerSec(); x > 0 {
				sum += x
				n++
			}
		}
		if n > 0 {
			rate = sum / float64(n)
		}
	}
	b := int64(rate * to.Sub(start).Seconds())
	return (b + r.bs - 1) / r.bs * r.bs
}
