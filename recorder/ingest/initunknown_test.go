package ingest

import (
	"fmt"
	"testing"
)

// unknownInitSink forgets the init once: its first WriteFragment fails the
// way the ring does after dropping an init.
type unknownInitSink struct {
	*memSink
	failed bool
}

func (s *unknownInitSink) WriteFragment(f Fragment) error {
	if !s.failed {
		s.failed = true
		return fmt.Errorf("%w: ring: unknown init segment", ErrInitUnknown)
	}
	return s.memSink.WriteFragment(f)
}

// A fragment refused for an unknown init makes the fragmenter write its
// init again, so recording resumes instead of failing until a restart.
func TestFragmenterResendsInitWhenSinkForgetsIt(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	h := newHarness(codecH264)
	sink := &unknownInitSink{memSink: h.sink}
	h.f.sink = sink
	h.feed(aus, 0)
	h.f.endConnection()

	inits, frags := h.sink.snapshot()
	if len(inits) != 2 {
		t.Fatalf("%d inits written, want 2 (the original and the re-sent one)", len(inits))
	}
	if len(frags) == 0 {
		t.Fatal("nothing recorded after the init was forgotten")
	}
	// The sample held back from the refused fragment may still go out
	// under the old id (a real sink refuses it too); after the re-sent init
	// everything uses it.
	first := -1
	for i, f := range frags {
		if f.InitID == 2 && first < 0 {
			first = i
		}
		if first >= 0 && f.InitID != 2 {
			t.Fatalf("fragment %d names init %d after the re-sent init 2", i, f.InitID)
		}
	}
	if first < 0 || first > 1 || !frags[first].Keyframe {
		t.Fatalf("first fragment with the re-sent init: index %d", first)
	}
}
