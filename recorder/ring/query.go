package ring

import (
	"bytes"
	"crypto/sha256"
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
	SHA256   [32]byte

	gen uint64 // block generation when indexed; 0 if unknown
}

// Fragments returns the indexed fragments of camera overlapping [from, to)
// in start order, including the one that contains from. Fragments appended
// since the last Sync are not yet visible.
func (r *Ring) Fragments(camera string, from, to time.Time) ([]FragmentRef, error) {
	c, ok := r.lookupCamera(camera)
	if !ok {
		return nil, nil
	}
	var out []FragmentRef
	err := r.db.View(func(tx *bolt.Tx) error {
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
				Offset:   e.offset + hdrSize,
				Length:   int64(e.length),
				Keyframe: e.flags&flagKeyframe != 0,
				InitID:   e.initID,
				SHA256:   e.sha,
				gen:      e.gen,
			})
		}
		return nil
	})
	return out, err
}

// ReadFragment reads a fragment's payload and verifies its record CRC and
// SHA-256. It fails with ErrStale if the block was erased or reused since
// the ref was made, and ErrCorrupt if the bytes do not verify.
func (r *Ring) ReadFragment(ref FragmentRef) ([]byte, error) {
	c, ok := r.lookupCamera(ref.Camera)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCamera, ref.Camera)
	}
	if int(ref.Block) >= r.nblocks || ref.Offset < hdrSize || ref.Length <= 0 ||
		ref.Offset+ref.Length > r.bs {
		return nil, fmt.Errorf("%w: ref out of range", ErrInvalid)
	}
	r.mu.Lock()
	m := r.blocks[ref.Block]
	r.mu.Unlock()
	if (m.state != stateOpen && m.state != stateSealed) || m.camera != c.num ||
		(ref.gen != 0 && ref.gen != m.gen) {
		return nil, fmt.Errorf("%w: block %d", ErrStale, ref.Block)
	}
	buf := make([]byte, hdrSize+ref.Length)
	if err := r.readAt(buf, int64(ref.Block)*r.bs+ref.Offset-hdrSize); err != nil {
		return nil, fmt.Errorf("ring: read fragment: %w", err)
	}
	h, payload, _, err := decodeRecord(buf)
	if err != nil {
		return nil, fmt.Errorf("%w: block %d offset %d: %v", ErrStale, ref.Block, ref.Offset, err)
	}
	if h.Kind != kindFragment || h.Camera != c.num || h.Gen != m.gen ||
		int64(h.Length) != ref.Length || h.Start != ref.Start.UnixNano() {
		return nil, fmt.Errorf("%w: block %d offset %d holds another record", ErrStale, ref.Block, ref.Offset)
	}
	if sha256.Sum256(payload) != ref.SHA256 {
		return nil, fmt.Errorf("%w: SHA-256 mismatch in block %d offset %d", ErrCorrupt, ref.Block, ref.Offset)
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
	err := r.db.View(func(tx *bolt.Tx) error {
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

// Coverage merges a camera's indexed fragments in [from, to) into spans. A
// gap between one fragment's end and the next start longer than 1.5 × the
// longer of the two fragments starts a new span, so a restart or a short
// outage shows; merging for display is the console timeline's business.
// Spans are not clipped to [from, to).
func (r *Ring) Coverage(camera string, from, to time.Time) ([]core.Span, error) {
	frags, err := r.Fragments(camera, from, to)
	if err != nil {
		return nil, err
	}
	var spans []core.Span
	var prevDur time.Duration
	for _, f := range frags {
		end := f.Start.Add(f.Duration)
		if n := len(spans); n > 0 {
			s := &spans[n-1]
			if f.Start.Sub(s.End) <= max(prevDur, f.Duration)*3/2 {
				if end.After(s.End) {
					s.End = end
				}
				s.Bytes += f.Length
				prevDur = f.Duration
				continue
			}
		}
		spans = append(spans, core.Span{Camera: camera, Start: f.Start, End: end, Bytes: f.Length})
		prevDur = f.Duration
	}
	return spans, nil
}

// Usage is what the ring holds of one camera.
type Usage struct {
	Oldest time.Time // oldest footage still on disk; zero if none
	Bytes  int64     // bytes in its open and sealed blocks
}

// Usages reports every camera's oldest footage and bytes in one pass over
// the block table (the console asks every second, for every camera).
func (r *Ring) Usages() map[string]Usage {
	r.mu.Lock()
	defer r.mu.Unlock()
	byNum := make(map[uint32]string, len(r.cams))
	for name, c := range r.cams {
		byNum[c.num] = name
	}
	first := map[uint32]int64{}
	bytes := map[uint32]int64{}
	for _, m := range r.blocks {
		if m.state != stateOpen && m.state != stateSealed {
			continue
		}
		bytes[m.camera] += m.used
		if m.hasFragments() && (first[m.camera] == 0 || m.first < first[m.camera]) {
			first[m.camera] = m.first
		}
	}
	out := make(map[string]Usage, len(byNum))
	for num, name := range byNum {
		u := Usage{Bytes: bytes[num]}
		if f := first[num]; f != 0 {
			u.Oldest = time.Unix(0, f).UTC()
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
	now := r.o.Now()
	limit := int64(r.o.HoldShare * float64(r.size()))
	r.mu.Lock()
	blocks := map[int]struct{}{}
	var future int64
	add := func(cam string, from, to time.Time) {
		c := r.cams[cam]
		if c == nil {
			future += r.futureBytesLocked(nil, from, to, now)
			return
		}
		for i, m := range r.blocks {
			if m.camera == c.num && m.state != stateFree && m.hasFragments() &&
				from.UnixNano() < m.last && to.UnixNano() > m.first {
				blocks[i] = struct{}{}
			}
		}
		future += r.futureBytesLocked(c, from, to, now)
	}
	for _, h := range active {
		if h.Until.IsZero() || now.Before(h.Until) {
			add(h.Camera, h.From, h.To)
		}
	}
	usedByActive := int64(len(blocks))*r.bs + future
	add(camera, from, to)
	total := int64(len(blocks))*r.bs + future
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
