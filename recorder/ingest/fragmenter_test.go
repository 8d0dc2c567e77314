package ingest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

type fragHarness struct {
	f     *fragmenter
	sink  *memSink
	ev    *memEvents
	clock *fakeClock
	st    *stats
}

func newHarness(codec codecKind) *fragHarness {
	h := &fragHarness{sink: newMemSink(), ev: &memEvents{}, st: &stats{},
		clock: &fakeClock{wall: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}}
	cam := &Camera{o: Options{Camera: "cam1", Events: h.ev}}
	cam.o.setDefaults()
	h.f = newFragmenter("cam1", codec, time.Second, h.sink, h.clock.Now, h.clock.Mono, h.st, cam.event)
	return h
}

// feed writes aus with PTS shifted by off, advancing the fake clocks by
// one frame each.
func (h *fragHarness) feed(aus []clipAU, off int64) {
	for _, a := range aus {
		h.f.writeAU(a.nalus, a.pts+off)
		h.clock.advance(40*time.Millisecond, 0)
	}
}

func TestFragmenterBitExactH264(t *testing.T) {
	testBitExact(t, "testdata/h264_320.ts")
}

func TestFragmenterBitExactH265(t *testing.T) {
	testBitExact(t, "testdata/h265_320.ts")
}

func testBitExact(t *testing.T, clip string) {
	kind, aus := loadClip(t, clip)
	h := newHarness(kind)
	// Start mid-GOP: everything before the first IDR must be skipped.
	start := 5
	h.feed(aus[start:], 1000)
	h.f.endConnection()

	inits, frags := h.sink.snapshot()
	if len(inits) != 1 {
		t.Fatalf("%d inits, want 1", len(inits))
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(inits[0])); err != nil {
		t.Fatalf("init does not parse: %v", err)
	}
	samples := parseFragments(t, frags)
	first := start
	for !aus[first].key {
		first++
	}
	want := aus[first:]
	if len(samples) != len(want) {
		t.Fatalf("%d samples stored, want %d (from the first IDR)", len(samples), len(want))
	}
	for i := range want {
		if !sameNALUs(samples[i].nalus, want[i].nalus) {
			t.Fatalf("sample %d differs from the sent access unit", i)
		}
		if samples[i].nonSync == want[i].key {
			t.Fatalf("sample %d: sync flag wrong", i)
		}
	}
	// PTS (= DTS + offset) matches what was sent, B-frames included, and
	// DTS never decreases. DTS steps equal the container's once the
	// extractor has seen the reorder depth (it learns it in the first GOP,
	// giving those frames 90-tick steps, as mediamtx does).
	p0 := samples[0].dts + int64(samples[0].ptsOff)
	for i := 1; i < len(want); i++ {
		if got, exp := samples[i].dts+int64(samples[i].ptsOff)-p0, want[i].pts-want[0].pts; got != exp {
			t.Fatalf("sample %d: PTS %d, want %d", i, got, exp)
		}
		if samples[i].dts < samples[i-1].dts {
			t.Fatalf("sample %d: DTS goes backwards", i)
		}
		if i > 25 {
			if got, exp := samples[i].dts-samples[i-1].dts, want[i].dts-want[i-1].dts; got != exp {
				t.Fatalf("sample %d: DTS step %d, container says %d", i, got, exp)
			}
		}
	}
	var total time.Duration
	for i, f := range frags {
		total += f.Duration
		if f.Duration > time.Second {
			t.Fatalf("fragment %d lasts %v", i, f.Duration)
		}
		if i > 0 && f.Start.Before(frags[i-1].Start.Add(frags[i-1].Duration)) {
			t.Fatalf("fragment %d overlaps the previous one", i)
		}
		if i == 0 && !f.Keyframe {
			t.Fatal("first fragment does not start at a keyframe")
		}
	}
	span := ticksToDur(want[len(want)-1].dts - want[0].dts)
	frame := 40 * time.Millisecond
	if d := total - span; d < -frame || d > frame {
		t.Fatalf("durations sum to %v, sent span %v", total, span)
	}
	if h.st.dropped.Load() != 0 || h.st.discontinuities.Load() != 0 {
		t.Fatalf("dropped %d, discontinuities %d", h.st.dropped.Load(), h.st.discontinuities.Load())
	}
	t.Logf("%s: %d AUs, %d fragments, %d B init", clip, len(want), len(frags), len(inits[0]))
}

func TestFragmenterKeepsAllNALUTypes(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	seen := map[h264.NALUType]bool{}
	for _, a := range aus {
		for _, n := range a.nalus {
			seen[h264.NALUType(n[0]&0x1f)] = true
		}
	}
	// The clip has SEI, SPS and PPS; the bit-exact test proves they are
	// stored, this guards that the clip still has them. (The MPEG-TS
	// reader strips AUDs, so those are added below.)
	for _, typ := range []h264.NALUType{h264.NALUTypeSEI, h264.NALUTypeSPS, h264.NALUTypePPS} {
		if !seen[typ] {
			t.Fatalf("clip has no %v NAL units", typ)
		}
	}
	// AUD, filler (type 12) and an unknown type are stored as well.
	h := newHarness(codecH264)
	for i, a := range aus[:30] {
		nal := append([][]byte{{0x09, 0xf0}}, a.nalus...)
		if i == 3 {
			nal = append(nal, []byte{0x0c, 0xff, 0xff, 0xff, 0x80}, []byte{0x17, 1, 2, 3})
		}
		h.f.writeAU(nal, a.pts)
	}
	h.f.endConnection()
	_, frags := h.sink.snapshot()
	s := parseFragments(t, frags)
	if n := len(s[3].nalus); n != len(aus[3].nalus)+3 || !bytes.Equal(s[3].nalus[0], []byte{0x09, 0xf0}) || !bytes.Equal(s[3].nalus[n-2], []byte{0x0c, 0xff, 0xff, 0xff, 0x80}) {
		t.Fatal("filler/unknown NAL units were not stored")
	}
}

func TestFragmenterInitChangesWithSPS(t *testing.T) {
	_, a := loadClip(t, "testdata/h264_320.ts")
	_, b := loadClip(t, "testdata/h264_352.ts")
	h := newHarness(codecH264)
	h.feed(a, 0)
	off := a[len(a)-1].dts + 3600
	h.feed(b, off)
	h.f.endConnection()

	inits, frags := h.sink.snapshot()
	if len(inits) != 2 {
		t.Fatalf("%d inits, want 2", len(inits))
	}
	var dims [][2]int
	for _, raw := range inits {
		var in fmp4.Init
		if err := in.Unmarshal(bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		c := in.Tracks[0].Codec.(*fmp4.CodecH264)
		var sps h264.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			t.Fatal(err)
		}
		dims = append(dims, [2]int{sps.Width(), sps.Height()})
	}
	if dims[0] != [2]int{320, 240} || dims[1] != [2]int{352, 288} {
		t.Fatalf("init dimensions %v", dims)
	}
	switched := false
	for i, f := range frags {
		if f.InitID == 2 && !switched {
			switched = true
			if !f.Keyframe {
				t.Fatalf("fragment %d: first after the new init is not a keyframe", i)
			}
		}
		if switched && f.InitID != 2 {
			t.Fatalf("fragment %d went back to init %d", i, f.InitID)
		}
	}
	samples := parseFragments(t, frags)
	if len(samples) != len(a)+len(b) {
		t.Fatalf("%d samples, want %d", len(samples), len(a)+len(b))
	}
	if cs := h.st.snapshot("cam1", 0); cs.Width != 352 || cs.Height != 288 || cs.Codec != "H264" {
		t.Fatalf("stats %+v", cs)
	}
}

func TestFragmenterMidGOPCut(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts") // GOP 25 frames = 1 s
	h := newHarness(codecH264)
	h.f.maxFrag = durToTicks(400 * time.Millisecond)
	h.feed(aus, 0)
	h.f.endConnection()
	_, frags := h.sink.snapshot()
	mid := 0
	for i, f := range frags {
		if f.Duration > 400*time.Millisecond {
			t.Fatalf("fragment %d lasts %v", i, f.Duration)
		}
		if !f.Keyframe {
			mid++
		}
	}
	if mid == 0 {
		t.Fatal("no mid-GOP fragment (Keyframe=false)")
	}
	if got := len(parseFragments(t, frags)); got != len(aus) {
		t.Fatalf("%d samples, want %d", got, len(aus))
	}
}

// TestFragmenterWallClockStep: a detected wall-clock step (the ring's
// detector, here a counter) re-anchors the timeline on the wall clock at
// the next keyframe; without a detected step the stream's own clock keeps
// time.
func TestFragmenterWallClockStep(t *testing.T) {
	for _, step := range []time.Duration{time.Hour, -10 * time.Minute, 24 * time.Hour, 90 * time.Second} {
		t.Run(step.String(), func(t *testing.T) {
			_, aus := loadClip(t, "testdata/h264_320.ts")
			h := newHarness(codecH264)
			var steps uint64
			h.f.steps = func() uint64 { return steps }
			t0 := h.clock.Now()
			h.feed(aus[:50], 0)
			h.clock.advance(0, step)
			steps++ // detected
			h.feed(aus[50:], 0)
			h.f.endConnection()

			if n := h.st.clockJumps.Load(); n != 1 {
				t.Fatalf("clock jumps %d, want 1", n)
			}
			if n := len(h.ev.evs); n != 0 {
				t.Fatalf("%d events for a step the ring ledgers: %v", n, h.ev.kinds())
			}
			_, frags := h.sink.snapshot()
			samples := parseFragments(t, frags)
			if len(samples) != len(aus) {
				t.Fatalf("%d samples stored, want all %d", len(samples), len(aus))
			}
			disc := -1
			for i, f := range frags {
				if f.Discontinuity {
					if disc >= 0 {
						t.Fatal("two fragments flagged for one step")
					}
					disc = i
				}
			}
			if disc < 0 || !frags[disc].Keyframe {
				t.Fatalf("no keyframe fragment flagged (flagged %d)", disc)
			}
			// Before: the stream's time from t0; after: wall time.
			before := frags[disc-1].Start.Add(frags[disc-1].Duration)
			if d := before.Sub(t0); d < 0 || d > 5*time.Second {
				t.Fatalf("footage before the step ends %v after the anchor", d)
			}
			if got, want := frags[disc].Start.Sub(before), step; got < want-2*time.Second || got > want+2*time.Second {
				t.Fatalf("the timeline moved by %v at the step, want about %v", got, want)
			}
		})
	}
}

// TestFragmenterStepUndetected: without a detector the timeline keeps the
// stream's time until the next connection.
func TestFragmenterStepUndetected(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	h := newHarness(codecH264)
	t0 := h.clock.Now()
	h.feed(aus[:50], 0)
	h.clock.advance(0, time.Hour)
	h.feed(aus[50:], 0)
	h.f.endConnection()
	_, frags := h.sink.snapshot()
	last := frags[len(frags)-1]
	if end := last.Start.Add(last.Duration); end.Sub(t0) > 5*time.Second {
		t.Fatalf("footage ends %v after the anchor", end.Sub(t0))
	}
}

func TestFragmenterDTSJump(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump int64
	}{
		{"backwards", -30 * clockRate},
		{"forward", 60 * clockRate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, aus := loadClip(t, "testdata/h264_320.ts")
			h := newHarness(codecH264)
			h.feed(aus[:50], 100*clockRate)
			h.feed(aus[50:], 100*clockRate+tc.jump)
			h.f.endConnection()

			if n := h.st.discontinuities.Load(); n != 1 {
				t.Fatalf("discontinuities %d, want 1", n)
			}
			if h.ev.kinds()[EventDiscontinuity] != 1 {
				t.Fatalf("events %v", h.ev.kinds())
			}
			_, frags := h.sink.snapshot()
			disc := 0
			for i, f := range frags {
				if f.Discontinuity {
					disc++
				}
				if i > 0 && f.Start.Before(frags[i-1].Start.Add(frags[i-1].Duration)) {
					t.Fatalf("fragment %d starts before the previous one ends", i)
				}
			}
			if disc != 1 {
				t.Fatalf("%d fragments flagged, want 1", disc)
			}
			if got := len(parseFragments(t, frags)); got != len(aus) {
				t.Fatalf("%d samples, want %d (no frame lost)", got, len(aus))
			}
		})
	}
}

// TestFragmenterReconnectClamp: a reconnect whose wall clock is behind the
// last fragment's end is clamped to it (jitter, or a camera clock that ran
// fast), unless the ring detected a wall-clock step in between: then the
// timeline follows the corrected clock.
func TestFragmenterReconnectClamp(t *testing.T) {
	for _, tc := range []struct {
		back     time.Duration
		detected bool
	}{{1500 * time.Millisecond, false}, {10 * time.Minute, false}, {10 * time.Minute, true}} {
		t.Run(fmt.Sprintf("%v detected=%v", tc.back, tc.detected), func(t *testing.T) {
			_, aus := loadClip(t, "testdata/h264_320.ts")
			h := newHarness(codecH264)
			var steps uint64
			h.f.steps = func() uint64 { return steps }
			h.feed(aus, 0)
			h.f.endConnection()
			_, first := h.sink.snapshot()
			end := first[len(first)-1].Start.Add(first[len(first)-1].Duration)
			h.clock.advance(0, -tc.back-(h.clock.Now().Sub(end)))
			if tc.detected {
				steps++
			}
			h.f.resetConnection()
			h.feed(aus, 0)
			h.f.endConnection()

			_, frags := h.sink.snapshot()
			next := frags[len(first)]
			if !next.Discontinuity {
				t.Fatal("reconnect not flagged")
			}
			if !tc.detected && !next.Start.Equal(end) {
				t.Fatalf("next connection starts %v after the last end, want clamped to it", next.Start.Sub(end))
			}
			if tc.detected && next.Start.Sub(end) > -tc.back+time.Second {
				t.Fatalf("next connection starts %v after the last end, want the wall clock (%v)", next.Start.Sub(end), -tc.back)
			}
		})
	}
}

// TestFragmenterFollowsCorrectedClock is the +1 day then corrected case:
// a reconnect while the clock is a day ahead is stamped a day ahead, and
// after the correction (detected by the ring) new connections are stamped
// at the corrected time, not held a day in the future until a restart.
func TestFragmenterFollowsCorrectedClock(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	h := newHarness(codecH264)
	var steps uint64
	h.f.steps = func() uint64 { return steps }
	h.feed(aus, 0)
	h.f.endConnection()
	h.clock.advance(time.Second, 24*time.Hour) // wrong step
	steps++
	h.f.resetConnection()
	h.feed(aus, 0)
	h.f.endConnection()
	h.clock.advance(time.Second, -24*time.Hour) // corrected
	steps++
	h.f.resetConnection()
	h.feed(aus, 0)
	h.f.endConnection()

	_, frags := h.sink.snapshot()
	last := frags[len(frags)-1]
	if d := h.clock.Now().Sub(last.Start.Add(last.Duration)); d < -time.Second || d > time.Second {
		t.Fatalf("after the correction footage ends %v from the wall clock", -d)
	}
	if n := h.st.clockJumps.Load(); n != 2 {
		t.Fatalf("clock jumps %d, want 2", n)
	}
}

func TestFragmenterBadInput(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")

	t.Run("no SPS never writes", func(t *testing.T) {
		h := newHarness(codecH264)
		for _, a := range aus {
			var keep [][]byte
			for _, n := range a.nalus {
				if typ := h264.NALUType(n[0] & 0x1f); typ != h264.NALUTypeSPS {
					keep = append(keep, n)
				}
			}
			h.f.writeAU(keep, a.pts)
		}
		h.f.endConnection()
		inits, frags := h.sink.snapshot()
		if len(inits)+len(frags) != 0 {
			t.Fatalf("wrote %d inits, %d fragments without an SPS", len(inits), len(frags))
		}
		if cs := h.st.snapshot("cam1", 0); cs.LastError == "" {
			t.Fatal("no error reported")
		}
	})

	t.Run("oversized AU dropped", func(t *testing.T) {
		h := newHarness(codecH264)
		h.feed(aus[:10], 0)
		big := append([][]byte{}, aus[10].nalus...)
		big = append(big, append([]byte{0x01}, make([]byte, MaxAccessUnitSize)...))
		h.f.writeAU(big, aus[10].pts)
		h.feed(aus[11:], 0)
		h.f.endConnection()
		if h.st.dropped.Load() == 0 || h.ev.kinds()[EventOversizeNAL] != 1 || h.st.oversize.Load() != 1 {
			t.Fatalf("dropped %d, oversize %d, events %v", h.st.dropped.Load(), h.st.oversize.Load(), h.ev.kinds())
		}
		_, frags := h.sink.snapshot()
		parseFragments(t, frags)
	})

	t.Run("sink failure is counted", func(t *testing.T) {
		h := newHarness(codecH264)
		h.sink.failW = true
		h.feed(aus, 0)
		h.f.endConnection()
		if h.st.writeErrors.Load() == 0 || h.ev.kinds()[EventWriteError] == 0 {
			t.Fatal("write errors not reported")
		}
	})
}

// TestFragmenterMidGOPJoinIsNotAFault: frames before the first keyframe,
// which carries the parameter sets, are waited through, not counted as
// missing parameter sets (so joining a camera mid-GOP never shows the
// stream as invalid).
func TestFragmenterMidGOPJoinIsNotAFault(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	k := 1
	for aus[k].key {
		k++
	}
	h := newHarness(codecH264)
	h.feed(aus[k:], 0)
	h.f.endConnection()
	if n := h.st.missingParams.Load(); n != 0 {
		t.Fatalf("%d access units counted as missing parameter sets", n)
	}
	if _, faults := h.st.recent(h.clock.Mono()); faults != 0 {
		t.Fatalf("%d faults", faults)
	}
	if _, frags := h.sink.snapshot(); len(frags) == 0 {
		t.Fatal("nothing recorded")
	}
}
