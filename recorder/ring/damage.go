package ring

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// Damaged footage. A fragment whose stored bytes fail their check (CRC,
// GCM tag, the index's SHA-256, or a header that is not the one indexed
// while its block is still current) is damaged: readers get ErrDamaged
// (never ErrStale, which means erased), the interval is remembered in
// index.db, ledgered once as a "damaged" recording event, shown in
// Coverage as a damaged span and counted in health. Playback and exports
// skip it (recorder/clip) and name the gap. The entry goes when the block
// is erased: the footage is then gone, not damaged.
//
// Bounds: one entry per damaged fragment (≤ one per second per camera of
// recorded footage), dropped with its block; a disk that fails everywhere
// is capped at maxDamage remembered entries, the rest only counted.
const maxDamage = 100_000

type damagedFrag struct {
	cam    uint32
	start  int64
	end    int64
	block  uint32
	gen    uint64
	reason string
	at     time.Time // when it was found (UTC)
}

type damageLog struct {
	byKey   map[string]damagedFrag // camera u32 + timeKey(start, seq)
	byBlock map[blockGen][]string  // the keys of each block's entries (erasure drops them)
	perCam  map[uint32]int         // entries per camera
	dirty   map[string]bool        // true: put, false: delete
	overCap uint64                 // damaged fragments found beyond maxDamage
}

func (l *damageLog) add(k string, d damagedFrag) {
	l.byKey[k] = d
	bg := blockGen{d.block, d.gen}
	l.byBlock[bg] = append(l.byBlock[bg], k)
	l.perCam[d.cam]++
}

func damageKey(cam uint32, k []byte) string { return string(u32key(cam)) + string(k) }

func (d damagedFrag) encode() []byte {
	b := make([]byte, 36, 36+len(d.reason))
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(d.end))
	be.PutUint32(b[8:], d.block)
	be.PutUint64(b[12:], d.gen)
	be.PutUint64(b[20:], uint64(d.at.UnixNano()))
	be.PutUint64(b[28:], uint64(d.start))
	return append(b, d.reason...)
}

func decodeDamaged(k, v []byte) (damagedFrag, error) {
	if len(k) != 20 || len(v) < 36 {
		return damagedFrag{}, fmt.Errorf("%w: damaged entry", ErrCorrupt)
	}
	be := binary.BigEndian
	return damagedFrag{cam: be.Uint32(k), end: int64(be.Uint64(v[0:])), block: be.Uint32(v[8:]),
		gen: be.Uint64(v[12:]), at: time.Unix(0, int64(be.Uint64(v[20:]))).UTC(),
		start: int64(be.Uint64(v[28:])), reason: string(v[36:])}, nil
}

func (r *Ring) loadDamage(tx *bolt.Tx) error {
	r.damage = damageLog{byKey: map[string]damagedFrag{}, byBlock: map[blockGen][]string{},
		perCam: map[uint32]int{}, dirty: map[string]bool{}}
	return tx.Bucket(bktDamaged).ForEach(func(k, v []byte) error {
		d, err := decodeDamaged(k, v)
		if err != nil {
			return err
		}
		r.damage.add(string(k), d)
		return nil
	})
}

// noteDamage records that the fragment ref failed its check. The first
// time, it is remembered and ledgered; it returns the error readers get.
func (r *Ring) noteDamage(c *camera, ref FragmentRef, cause error) error {
	err := fmt.Errorf("%w: camera %s fragment at %s (block %d): %v", ErrDamaged, ref.Camera,
		ref.Start.UTC().Format(time.RFC3339Nano), ref.Block, cause)
	k := damageKey(c.num, timeKey(ref.Start.UnixNano(), ref.seq))
	d := damagedFrag{cam: c.num, start: ref.Start.UnixNano(), end: ref.Start.Add(ref.Duration).UnixNano(),
		block: ref.Block, gen: ref.gen, reason: reasonOf(cause), at: r.o.Now().UTC()}
	r.damageMu.Lock()
	_, known := r.damage.byKey[k]
	if !known {
		if len(r.damage.byKey) >= maxDamage {
			r.damage.overCap++
		} else {
			r.damage.add(k, d)
			r.damage.dirty[k] = true
		}
	}
	r.damageMu.Unlock()
	if !known {
		r.errorByRate("damaged fragment", "damaged fragment", "camera", ref.Camera, "start", ref.Start, "block", ref.Block, "err", cause)
		r.event(ref.Camera, "damaged", map[string]string{
			"from": ref.Start.UTC().Format(time.RFC3339Nano), "to": ref.Start.Add(ref.Duration).UTC().Format(time.RFC3339Nano),
			"block": fmt.Sprint(ref.Block), "reason": d.reason})
	}
	return err
}

func reasonOf(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// anyDamage reports whether camera num has any known damaged fragment
// (Coverage skips the per-fragment lookups when not).
func (r *Ring) anyDamage(num uint32) bool {
	r.damageMu.Lock()
	defer r.damageMu.Unlock()
	return r.damage.perCam[num] > 0
}

// blockDamaged reports whether block b of generation gen has a known
// damaged fragment. damageMu is a leaf: callers may hold r.mu.
func (r *Ring) blockDamaged(b uint32, gen uint64) bool {
	r.damageMu.Lock()
	defer r.damageMu.Unlock()
	return len(r.damage.byBlock[blockGen{b, gen}]) > 0
}

// isDamaged reports whether the fragment of camera num at index key k is
// known damaged.
func (r *Ring) isDamaged(num uint32, k []byte) bool {
	r.damageMu.Lock()
	defer r.damageMu.Unlock()
	_, ok := r.damage.byKey[damageKey(num, k)]
	return ok
}

// forgetDamage drops the entries of an erased block.
func (r *Ring) forgetDamage(b uint32, gen uint64) {
	r.damageMu.Lock()
	defer r.damageMu.Unlock()
	bg := blockGen{b, gen}
	for _, k := range r.damage.byBlock[bg] {
		if d, ok := r.damage.byKey[k]; ok && d.block == b && d.gen == gen {
			delete(r.damage.byKey, k)
			if r.damage.perCam[d.cam]--; r.damage.perCam[d.cam] <= 0 {
				delete(r.damage.perCam, d.cam)
			}
			r.damage.dirty[k] = false
		}
	}
	delete(r.damage.byBlock, bg)
}

// takeDamageChanges returns the entries to write or delete in the next
// index commit.
func (r *Ring) takeDamageChanges() map[string]*damagedFrag {
	r.damageMu.Lock()
	defer r.damageMu.Unlock()
	if len(r.damage.dirty) == 0 {
		return nil
	}
	out := make(map[string]*damagedFrag, len(r.damage.dirty))
	for k, put := range r.damage.dirty {
		if put {
			d := r.damage.byKey[k]
			out[k] = &d
		} else {
			out[k] = nil
		}
	}
	clear(r.damage.dirty)
	return out
}

func (r *Ring) requeueDamage(ch map[string]*damagedFrag) {
	r.damageMu.Lock()
	defer r.damageMu.Unlock()
	for k, d := range ch {
		if _, newer := r.damage.dirty[k]; !newer {
			r.damage.dirty[k] = d != nil
		}
	}
}

// damagedSpans returns camera num's damaged fragments overlapping
// [from, to) as spans, in start order.
func (r *Ring) damagedSpans(name string, num uint32, from, to int64) []core.Span {
	r.damageMu.Lock()
	var out []core.Span
	for _, d := range r.damage.byKey {
		if d.cam == num && d.start < to && d.end > from {
			out = append(out, core.Span{Camera: name, Start: time.Unix(0, d.start).UTC(), End: time.Unix(0, d.end).UTC(), Damaged: true})
		}
	}
	r.damageMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// damageStats counts damaged fragments and returns the most recent few.
// One pass keeping the newest few (Stats runs every second per console;
// a failing disk may have up to maxDamage entries).
func (r *Ring) damageStats(recent int) (uint64, []core.Span) {
	recent = max(recent, 1)
	r.damageMu.Lock()
	all := make([]damagedFrag, 0, recent+1)
	for _, d := range r.damage.byKey {
		if len(all) == recent && !d.at.After(all[recent-1].at) {
			continue
		}
		i := sort.Search(len(all), func(i int) bool { return d.at.After(all[i].at) })
		all = slices.Insert(all, i, d)
		if len(all) > recent {
			all = all[:recent]
		}
	}
	n := uint64(len(r.damage.byKey))
	over := r.damage.overCap
	r.damageMu.Unlock()
	r.mu.Lock()
	names := make(map[uint32]string, len(r.camByNum))
	for n, c := range r.camByNum {
		names[n] = c.name
	}
	r.mu.Unlock()
	var out []core.Span
	for _, d := range all[:min(recent, len(all))] {
		out = append(out, core.Span{Camera: names[d.cam], Start: time.Unix(0, d.start).UTC(),
			End: time.Unix(0, d.end).UTC(), Damaged: true})
	}
	return n + over, out
}
