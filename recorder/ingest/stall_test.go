package ingest

import (
	"testing"
	"time"

	"mimamori/simcam"
)

// A time-lapse camera, slower than the stall timeout (here a picture
// every 800 ms against 250 ms: the proportions of a picture every 10 s
// against the default 5 s, sped up), records: the stall window follows
// the camera's own pace, learnt within a few connections, and once learnt
// the camera is no longer reconnected between its pictures. Before, it
// was reconnected before every picture and recorded nothing.
func TestSlowCameraRecords(t *testing.T) {
	const interval = 800 * time.Millisecond
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 2, Codec: "h264",
		Faults: map[int]simcam.Fault{1: {FrameInterval: interval}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sink := newMemSink()
	c := New(Options{Camera: "slow", URL: srv.URL(1), Sink: sink, StallTimeout: 250 * time.Millisecond,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	stop := runCamera(c)
	defer stop()

	// Learning its pace takes a few connections.
	waitFor(t, 30*interval, "the camera's pace learnt", func() bool { return c.stall.interval.Load() > 0 })
	reconnects := c.Stats().Reconnects
	t.Logf("pace learnt after %d reconnects", reconnects)
	_, before := sink.snapshot()
	// Then one fragment a picture, with no reconnection in between.
	frags := sink.waitFrags(t, len(before)+5, 15*interval)
	if st := c.Stats(); st.Reconnects != reconnects || st.State != StateRecording {
		t.Fatalf("after learning its pace: %d reconnects (was %d), state %s, last error %q",
			st.Reconnects, reconnects, st.State, st.LastError)
	}
	for _, f := range frags[len(before):] {
		if !f.Keyframe || f.Duration < interval/2 || f.Duration > 2*interval {
			t.Errorf("fragment: keyframe %v, %v long; want one picture of about %v", f.Keyframe, f.Duration, interval)
		}
	}
	if w := c.stall.window(); w < 2*interval || w > 4*interval {
		t.Errorf("stall window %v for a picture every %v", w, interval)
	}
}

// A fast camera's window stays the stall timeout, and a moment's freeze
// widens it only for a moment.
func TestStallWindowFollowsThePace(t *testing.T) {
	var s stallClock
	s.base = 5 * time.Second
	for i := 0; i < 100; i++ {
		s.frameGap(40 * time.Millisecond)
	}
	if w := s.window(); w != 5*time.Second {
		t.Fatalf("25 fps: window %v, want the stall timeout", w)
	}
	s.frameGap(4 * time.Second) // a freeze
	if w := s.window(); w != 12*time.Second {
		t.Fatalf("after a 4 s gap: window %v, want 12s", w)
	}
	for i := 0; i < 25; i++ { // one second of frames again
		s.frameGap(40 * time.Millisecond)
	}
	if w := s.window(); w != 5*time.Second {
		t.Fatalf("a second after the freeze: window %v, want the stall timeout again", w)
	}

	// Never seen a frame: each stalled connection doubles the wait, up
	// to the cap; a stall timeout set above the cap is kept.
	var u stallClock
	u.base = 5 * time.Second
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		maxPatience, maxPatience} {
		u.stalledUnknown()
		if w := u.window(); w != want {
			t.Fatalf("window %v, want %v", w, want)
		}
	}
	u.frameGap(10 * time.Second) // a picture every 10 s
	if w := u.window(); w != 30*time.Second {
		t.Fatalf("a picture every 10 s: window %v, want 30s", w)
	}
	v := stallClock{base: time.Hour}
	v.frameGap(time.Hour)
	if w := v.window(); w != time.Hour {
		t.Fatalf("stall_timeout 1h: window %v", w)
	}
}
