package ring

import (
	"bytes"
	"encoding/binary"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// runGap is the longest gap between one fragment's end and the next
// one's start that Coverage still reads as one span: 1.5 × the longer of
// the two, so a restart or a short outage shows.
func runGap(prevDur, dur int64) int64 { return max(prevDur, dur) * 3 / 2 }

// covItem is one piece Coverage merges, in start order: a block whose
// fragments are one run (flagRun: from the block table), or one fragment
// of a block that is not (read from the index).
type covItem struct {
	start, end int64
	bytes      int64
	block      uint32
	seq        uint64
	// firstDur, lastDur: the durations of its first and last fragment;
	// -1 for a block run until a gap needs them (then read).
	firstDur, lastDur int64
	keyless, damaged  bool
}

// Coverage merges a camera's footage in [from, to) into spans. A gap
// between one fragment's end and the next start longer than 1.5 × the
// longer of the two starts a new span (runGap), so a restart or a short
// outage shows; merging for display is the console timeline's business.
// Fragments known to be damaged are left out of the recorded spans and
// listed as spans of their own with Damaged set, in start order with the
// others. Spans are not clipped to [from, to): they begin with the
// fragment that contains from and end with the last that starts before
// to.
//
// Its cost follows the blocks in the range, not the fragments: a block
// whose fragments are one run (flagRun, the usual case) is answered from
// the block table, and the index is read only for the blocks at the
// range's ends, the fragments on both sides of a gap between blocks, and
// blocks that are not one run (a gap inside, damage, a missing key,
// written by an earlier release, or recovered). For a block from the
// table Bytes counts its record bytes (payload plus each record's header
// and tags, and init records: ~0.1 % over the payloads at 4 Mbit/s);
// elsewhere the payloads. Footage appended
// since the last Sync shows, though Fragments does not list it yet.
func (r *Ring) Coverage(camera string, from, to time.Time) ([]core.Span, error) {
	c, ok := r.lookupCamera(camera)
	if !ok {
		return nil, nil
	}
	fromNs, toNs := from.UnixNano(), to.UnixNano()
	damage := r.anyDamage(c.num)
	type slowBlock struct {
		b           uint32
		first, last int64
		noKey       bool
	}
	var items []covItem
	var slow []slowBlock
	r.mu.Lock()
	r.eachInRangeLocked(camera, holdSpan{from: fromNs, to: toNs}, true, func(b uint32, m *blockMeta) {
		// A block at an end of the range is read too: its spans begin with
		// the fragment that contains from and end with the last before to.
		inside := m.first >= fromNs && m.last <= toNs
		if inside && m.flags&flagRun != 0 && !m.noKey() && (!damage || !r.blockDamaged(b, m.gen)) {
			items = append(items, covItem{start: m.first, end: m.last, bytes: int64(m.used), block: b, firstDur: -1, lastDur: -1})
			return
		}
		slow = append(slow, slowBlock{b: b, first: m.first, last: m.last, noKey: m.noKey() && m.state != stateFree})
	})
	r.mu.Unlock()
	if len(items) == 0 && len(slow) == 0 {
		return nil, nil
	}

	var spans, keyless []core.Span
	err := r.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktFrags).Bucket(u32key(c.num))
		if bk == nil {
			items = nil
			return nil
		}
		cur := bk.Cursor()
		// Of the fragments starting before from, only the one right
		// before it counts, and only if it reaches past from (Fragments).
		var before []byte
		if k, _ := cur.Seek(timeKey(fromNs, 0)); k == nil {
			before, _ = cur.Last()
		} else {
			before, _ = cur.Prev()
		}
		before = slices.Clone(before)
		// The fragments of the blocks that are not one run.
		read := func(sb slowBlock) error {
			for k, v := cur.Seek(timeKey(sb.first, 0)); k != nil && keyStart(k) <= sb.last; k, v = cur.Next() {
				e, err := decodeFragEntry(v)
				if err != nil {
					return err
				}
				st := keyStart(k)
				if e.block != sb.b || st >= toNs || (st < fromNs && (st+e.dur <= fromNs || !bytes.Equal(k, before))) {
					continue
				}
				it := covItem{start: st, end: st + e.dur, bytes: int64(e.length), block: sb.b,
					seq: binary.BigEndian.Uint64(k[8:]), firstDur: e.dur, lastDur: e.dur, keyless: sb.noKey}
				it.damaged = !it.keyless && damage && r.isDamaged(c.num, k)
				items = append(items, it)
			}
			return nil
		}
		for _, sb := range slow {
			if err := read(sb); err != nil {
				return err
			}
		}
		sortItems(items)
		// Blocks whose footage overlaps another's (the wall clock went
		// back) interleave fragment by fragment: their runs are read too.
		if again := overlappingRuns(items); len(again) > 0 {
			items = slices.DeleteFunc(items, func(it covItem) bool { _, ok := again[it.block]; return ok && it.firstDur < 0 })
			for b, se := range again {
				if err := read(slowBlock{b: b, first: se[0], last: se[1]}); err != nil {
					return err
				}
			}
			sortItems(items)
		}
		var prev *covItem
		broken := false // a damaged fragment since the last span: never merge across it
		for i := range items {
			f := &items[i]
			if f.keyless {
				// Its key is gone from keys.dat: unreadable, shown as damaged.
				keyless = append(keyless, core.Span{Camera: camera, Start: time.Unix(0, f.start).UTC(), End: time.Unix(0, f.end).UTC(), Damaged: true})
				broken = true
				continue
			}
			if f.damaged {
				broken = true
				continue
			}
			if n := len(spans); n > 0 && !broken {
				s := &spans[n-1]
				join := f.start <= s.End.UnixNano()
				if !join {
					pd, err := lastDur(cur, prev)
					if err != nil {
						return err
					}
					fd, err := firstDur(cur, f)
					if err != nil {
						return err
					}
					join = f.start-s.End.UnixNano() <= runGap(pd, fd)
				}
				if join {
					if end := time.Unix(0, f.end).UTC(); end.After(s.End) {
						s.End = end
					}
					s.Bytes += f.bytes
					prev = f
					continue
				}
			}
			spans = append(spans, core.Span{Camera: camera, Start: time.Unix(0, f.start).UTC(), End: time.Unix(0, f.end).UTC(), Bytes: f.bytes})
			prev = f
			broken = false
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	dmg := r.damagedSpans(camera, c.num, fromNs, toNs)
	if len(keyless) > 0 {
		dmg = append(dmg, keyless...)
		slices.SortStableFunc(dmg, func(a, b core.Span) int { return a.Start.Compare(b.Start) })
	}
	if len(dmg) == 0 {
		return spans, nil
	}
	// Adjacent damaged fragments read as one damaged span.
	var merged []core.Span
	for _, d := range dmg {
		if n := len(merged); n > 0 && !d.Start.After(merged[n-1].End) {
			if d.End.After(merged[n-1].End) {
				merged[n-1].End = d.End
			}
			continue
		}
		merged = append(merged, d)
	}
	spans = append(spans, merged...)
	slices.SortStableFunc(spans, func(a, b core.Span) int { return a.Start.Compare(b.Start) })
	return spans, nil
}

func sortItems(items []covItem) {
	slices.SortStableFunc(items, func(a, b covItem) int {
		if a.start != b.start {
			return cmpInt64(a.start, b.start)
		}
		return cmpInt64(int64(a.seq), int64(b.seq))
	})
}

// overlappingRuns finds the run blocks among items (sorted by start) in a
// cluster of overlapping footage from more than one block, with their
// footage range.
func overlappingRuns(items []covItem) map[uint32][2]int64 {
	var out map[uint32][2]int64
	for i := 0; i < len(items); {
		j, end, multi := i+1, items[i].end, false
		for ; j < len(items) && items[j].start < end; j++ {
			end = max(end, items[j].end)
			multi = multi || items[j].block != items[i].block
		}
		if multi {
			for _, it := range items[i:j] {
				if it.firstDur < 0 {
					if out == nil {
						out = map[uint32][2]int64{}
					}
					out[it.block] = [2]int64{it.start, it.end}
				}
			}
		}
		i = j
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// firstDur is the duration of it's first fragment, read for a run block.
func firstDur(cur *bolt.Cursor, it *covItem) (int64, error) {
	if it.firstDur >= 0 {
		return it.firstDur, nil
	}
	for k, v := cur.Seek(timeKey(it.start, 0)); k != nil && keyStart(k) <= it.end; k, v = cur.Next() {
		e, err := decodeFragEntry(v)
		if err != nil {
			return 0, err
		}
		if e.block == it.block {
			it.firstDur = e.dur
			return e.dur, nil
		}
	}
	it.firstDur = 0
	return 0, nil
}

// lastDur is the duration of it's last fragment, read for a run block.
func lastDur(cur *bolt.Cursor, it *covItem) (int64, error) {
	if it == nil {
		return 0, nil
	}
	if it.lastDur >= 0 {
		return it.lastDur, nil
	}
	k, v := cur.Seek(timeKey(it.end, 0))
	if k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	for ; k != nil && keyStart(k) >= it.start; k, v = cur.Prev() {
		e, err := decodeFragEntry(v)
		if err != nil {
			return 0, err
		}
		if e.block == it.block {
			it.lastDur = e.dur
			return e.dur, nil
		}
	}
	it.lastDur = 0
	return 0, nil
}
