package ring

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"mimamori/core"
)

// coverageFromFragments is Coverage as it was before the block table
// answered it: the oracle the block-table answer is checked against.
// It merges a camera's indexed fragments in [from, to) into spans. A
// gap between one fragment's end and the next start longer than 1.5 × the
// longer of the two fragments starts a new span, so a restart or a short
// outage shows; merging for display is the console timeline's business.
// Fragments known to be damaged are left out of the recorded spans and
// listed as spans of their own with Damaged set, in start order with the
// others. Spans are not clipped to [from, to).
func (r *Ring) coverageFromFragments(camera string, from, to time.Time) ([]core.Span, error) {
	frags, err := r.Fragments(camera, from, to)
	if err != nil {
		return nil, err
	}
	c, ok := r.lookupCamera(camera)
	if !ok {
		return nil, nil
	}
	var spans, keyless []core.Span
	var prevDur time.Duration
	broken := false // a damaged fragment since the last span: never merge across it
	damage := r.anyDamage(c.num)
	noKey := r.keylessBlocks(frags)
	for _, f := range frags {
		if _, ok := noKey[f.Block]; ok {
			// Its key is gone from keys.dat: unreadable, shown as damaged.
			keyless = append(keyless, core.Span{Camera: camera, Start: f.Start, End: f.Start.Add(f.Duration), Damaged: true})
			broken = true
			continue
		}
		if damage && r.isDamaged(c.num, timeKey(f.Start.UnixNano(), f.seq)) {
			broken = true
			continue
		}
		end := f.Start.Add(f.Duration)
		if n := len(spans); n > 0 && !broken {
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
		broken = false
	}
	dmg := r.damagedSpans(camera, c.num, from.UnixNano(), to.UnixNano())
	if len(keyless) > 0 {
		dmg = append(dmg, keyless...)
		sort.SliceStable(dmg, func(i, j int) bool { return dmg[i].Start.Before(dmg[j].Start) })
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
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	return spans, nil
}

// keylessBlocks is the set of frags' blocks whose key is missing from
// keys.dat (nil when there is none, the usual case).
func (r *Ring) keylessBlocks(frags []FragmentRef) map[uint32]struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keyless == 0 {
		return nil
	}
	var out map[uint32]struct{}
	for _, f := range frags {
		if int(f.Block) < r.nblocks && r.blocks[f.Block].noKey() && r.blocks[f.Block].state != stateFree {
			if out == nil {
				out = map[uint32]struct{}{}
			}
			out[f.Block] = struct{}{}
		}
	}
	return out
}

// TestCoverageFromBlockTable: Coverage answered from the block table
// (flagRun) gives the spans the fragment-by-fragment merge gives, for
// cameras with gaps inside blocks and between them, short ones the rule
// bridges and ones it does not, fragments of different lengths, overlaps,
// a step back, and restarts between (recovery, blocks of the previous
// run). Bytes: the block's record bytes, a little over the payloads.
func TestCoverageFromBlockTable(t *testing.T) {
	for seed := range uint64(envInt("MIMAMORI_COVERAGE_SEEDS", 6)) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			dir := t.TempDir()
			clk := &fakeClock{t: t0}
			o := Options{Dir: dir, Capacity: 64 << 20, BlockSize: 16 << 10, Erasures: &fakeErasures{dedup: true},
				Now: clk.Now, Mono: clk.Mono, NoSync: true, SyncInterval: time.Hour}
			r := mustOpen(t, o)
			cams := []string{"cam1", "cam2", "cam3"}
			ids := map[string]uint32{}
			next := map[string]int64{}
			lastStart := map[string]int64{}
			for _, cam := range cams {
				ids[cam], _ = r.AppendInit(cam, initFor(cam))
				next[cam] = t0.UnixNano()
			}
			durs := []time.Duration{time.Second, 2 * time.Second, 500 * time.Millisecond}
			for i := range 3000 {
				cam := cams[rng.IntN(len(cams))]
				dur := int64(durs[rng.IntN(len(durs))])
				start := next[cam]
				switch p := rng.IntN(100); {
				case p < 4: // bridged: within 1.5 × the shorter possible
					start += int64(rng.IntN(int(dur)))
				case p < 8: // just over what any rule bridges
					start += 3*int64(2*time.Second) + int64(rng.IntN(int(time.Second)))
				case p < 11:
					start += int64(time.Duration(rng.IntN(600)) * time.Second)
				case p < 12: // overlap the previous fragment (not before its start)
					start = max(lastStart[cam], start-dur/2)
				case p == 12 && i > 1000: // the wall clock stepped back
					start -= int64(10 * time.Minute)
				}
				if start > clk.Now().UnixNano() {
					clk.Set(time.Unix(0, start))
				}
				if err := r.AppendFragment(Fragment{Camera: cam, Start: time.Unix(0, start), Duration: time.Duration(dur),
					Keyframe: true, InitID: ids[cam], Payload: payloadFor(cam, i, 100+rng.IntN(800))}); err != nil {
					t.Fatal(err)
				}
				lastStart[cam], next[cam] = start, start+dur
				if rng.IntN(50) == 0 {
					if err := r.Sync(); err != nil {
						t.Fatal(err)
					}
				}
				if rng.IntN(800) == 0 { // a restart: open blocks sealed, recovery
					if err := r.Close(); err != nil {
						t.Fatal(err)
					}
					r = mustOpen(t, o)
				}
			}
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			runs, blocks := 0, 0
			r.mu.Lock()
			for _, m := range r.blocks {
				if m.hasFragments() {
					blocks++
					if m.flags&flagRun != 0 {
						runs++
					}
				}
			}
			r.mu.Unlock()
			if runs == 0 || runs == blocks {
				t.Fatalf("%d of %d blocks are one run: the test covers both kinds or nothing", runs, blocks)
			}
			end := time.Unix(0, max(next["cam1"], next["cam2"], next["cam3"]))
			windows := [][2]time.Time{{t0.Add(-time.Hour), end.Add(time.Hour)}}
			for range 30 {
				a := t0.Add(time.Duration(rng.Int64N(int64(end.Sub(t0)))))
				b := a.Add(time.Duration(rng.Int64N(int64(end.Sub(a)) + 1)))
				windows = append(windows, [2]time.Time{a, b})
			}
			for _, cam := range cams {
				for _, w := range windows {
					compareCoverage(t, r, cam, w[0], w[1])
				}
			}
			t.Logf("%d of %d blocks one run", runs, blocks)
		})
	}
}

func compareCoverage(t *testing.T, r *Ring, cam string, from, to time.Time) {
	t.Helper()
	want, err := r.coverageFromFragments(cam, from, to)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Coverage(cam, from, to)
	if err != nil {
		t.Fatal(err)
	}
	show := func(sp []core.Span) string {
		s := ""
		for _, x := range sp {
			s += fmt.Sprintf("\n  [%s, %s) %d %v", x.Start.Sub(t0), x.End.Sub(t0), x.Bytes, x.Damaged)
		}
		return s
	}
	if len(got) != len(want) {
		t.Fatalf("%s [%s, %s): %d spans, want %d:%s\nwant:%s", cam, from.Sub(t0), to.Sub(t0), len(got), len(want), show(got), show(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Damaged != w.Damaged || g.Camera != w.Camera ||
			g.Bytes < w.Bytes || g.Bytes > w.Bytes*3/2+4096 {
			t.Fatalf("%s [%s, %s): span %d differs:%s\nwant:%s", cam, from.Sub(t0), to.Sub(t0), i, show(got), show(want))
		}
	}
}

// A block written by an earlier release carries no run bit: Coverage
// reads its fragments. Reopened, a block keeps the bit it was written
// with.
func TestCoverageRunBitPersists(t *testing.T) {
	e := newEnv(t)
	o := e.tinyOpts()
	r := mustOpen(t, o)
	id, _ := r.AppendInit("cam1", initFor("cam1"))
	appendSeq(t, r, e, "cam1", id, 0, 40, fragSize)
	appendSeq(t, r, e, "cam1", id, 100, 140, fragSize) // a gap
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	flags := func(r *Ring) []metaFlags {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []metaFlags
		for _, m := range r.blocks {
			if m.hasFragments() {
				out = append(out, m.flags&flagRun)
			}
		}
		return out
	}
	before := flags(r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, o)
	defer r.Close()
	if after := flags(r); fmt.Sprint(after) != fmt.Sprint(before) || len(before) < 2 {
		t.Fatalf("run bits %v before the restart, %v after", before, after)
	}
	compareCoverage(t, r, "cam1", t0, t0.Add(time.Hour))
	r.mu.Lock()
	for i := range r.blocks {
		r.blocks[i].flags &^= flagRun // as an earlier release wrote them
	}
	r.mu.Unlock()
	compareCoverage(t, r, "cam1", t0, t0.Add(time.Hour))
	compareCoverage(t, r, "cam1", t0.Add(20*time.Second), t0.Add(120*time.Second))
}
