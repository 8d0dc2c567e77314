package ingest

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"mimamori/core"
)

// clipAU is one access unit of a test clip, with the container's timing.
type clipAU struct {
	pts, dts int64
	nalus    [][]byte
	key      bool
}

// loadClip reads an MPEG-TS test clip (made with ffmpeg, see testdata/README).
func loadClip(tb testing.TB, path string) (codecKind, []clipAU) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := &mpegts.Reader{R: f}
	if err := r.Initialize(); err != nil {
		tb.Fatal(err)
	}
	var aus []clipAU
	var kind codecKind
	cp := func(au [][]byte) [][]byte {
		out := make([][]byte, len(au))
		for i, n := range au {
			out[i] = bytes.Clone(n)
		}
		return out
	}
	for _, tr := range r.Tracks() {
		switch tr.Codec.(type) {
		case *mpegts.CodecH264:
			kind = codecH264
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				aus = append(aus, clipAU{pts: pts, dts: dts, nalus: cp(au), key: h264.IsRandomAccess(au)})
				return nil
			})
		case *mpegts.CodecH265:
			kind = codecH265
			r.OnDataH265(tr, func(pts, dts int64, au [][]byte) error {
				aus = append(aus, clipAU{pts: pts, dts: dts, nalus: cp(au)})
				return nil
			})
		}
	}
	for r.Read() == nil {
	}
	if len(aus) == 0 {
		tb.Fatalf("%s: no access units", path)
	}
	if kind == codecH265 {
		for i := range aus {
			aus[i].key = (&fragmenter{codec: codecH265}).isKey(aus[i].nalus)
		}
	}
	// Rebase so the first DTS is 0.
	base := aus[0].dts
	for i := range aus {
		aus[i].pts -= base
		aus[i].dts -= base
	}
	return kind, aus
}

// memSink is a Sink that keeps everything in memory.
type memSink struct {
	mu     sync.Mutex
	inits  [][]byte
	frags  []Fragment
	notify chan struct{}
	failW  bool
}

func newMemSink() *memSink { return &memSink{notify: make(chan struct{}, 1)} }

func (s *memSink) WriteInit(_ string, init []byte) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inits = append(s.inits, bytes.Clone(init))
	return uint32(len(s.inits)), nil
}

func (s *memSink) WriteFragment(f Fragment) error {
	s.mu.Lock()
	if s.failW {
		s.mu.Unlock()
		return fmt.Errorf("disk on fire")
	}
	f.Payload, f.Body = f.Bytes(), nil // the fragmenter reuses both
	s.frags = append(s.frags, f)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *memSink) snapshot() ([][]byte, []Fragment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.inits...), append([]Fragment(nil), s.frags...)
}

// waitFrags waits until at least n fragments arrived or the deadline passes.
func (s *memSink) waitFrags(tb testing.TB, n int, within time.Duration) []Fragment {
	tb.Helper()
	deadline := time.After(within)
	for {
		_, fr := s.snapshot()
		if len(fr) >= n {
			return fr
		}
		select {
		case <-s.notify:
		case <-deadline:
			tb.Fatalf("only %d fragments after %v, want %d", len(fr), within, n)
		}
	}
}

// memEvents is an EventSink in memory.
type memEvents struct {
	mu  sync.Mutex
	evs []core.RecordingEvent
}

func (e *memEvents) RecordEvent(ev core.RecordingEvent) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
	return nil
}

func (e *memEvents) kinds() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[string]int{}
	for _, ev := range e.evs {
		m[ev.Kind]++
	}
	return m
}

// parsedSample is one sample read back from a fragment.
type parsedSample struct {
	dts      int64 // tfdt-based decode time
	dur      int64
	ptsOff   int32
	nonSync  bool
	nalus    [][]byte
	fragment int
}

// parseFragments checks every fragment parses with fmp4 and returns all
// samples in order.
func parseFragments(tb testing.TB, frags []Fragment) []parsedSample {
	tb.Helper()
	var out []parsedSample
	for i, f := range frags {
		var parts fmp4.Parts
		if err := parts.Unmarshal(f.Payload); err != nil {
			tb.Fatalf("fragment %d does not parse: %v", i, err)
		}
		if len(parts) != 1 || len(parts[0].Tracks) != 1 {
			tb.Fatalf("fragment %d: %d parts", i, len(parts))
		}
		tr := parts[0].Tracks[0]
		t := int64(tr.BaseTime)
		var sum int64
		for j, s := range tr.Samples {
			var au h264.AVCC
			if err := au.Unmarshal(s.Payload); err != nil {
				tb.Fatalf("fragment %d sample %d: %v", i, j, err)
			}
			out = append(out, parsedSample{dts: t, dur: int64(s.Duration), ptsOff: s.PTSOffset,
				nonSync: s.IsNonSyncSample, nalus: au, fragment: i})
			t += int64(s.Duration)
			sum += int64(s.Duration)
		}
		if got := ticksToDur(sum); got != f.Duration {
			tb.Fatalf("fragment %d: Duration %v, samples sum to %v", i, f.Duration, got)
		}
		if f.Keyframe != !tr.Samples[0].IsNonSyncSample {
			tb.Fatalf("fragment %d: Keyframe flag %v disagrees with first sample", i, f.Keyframe)
		}
	}
	return out
}

func sameNALUs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// fakeClock is an injectable Now/Mono pair.
type fakeClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

func (c *fakeClock) Mono() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// advance moves both clocks; stepWall additionally steps the wall clock.
func (c *fakeClock) advance(d, stepWall time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mono += d
	c.wall = c.wall.Add(d + stepWall)
}
