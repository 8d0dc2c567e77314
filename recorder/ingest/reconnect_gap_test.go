package ingest

import (
	"sync"
	"testing"
	"time"

	"mimamori/simcam"
)

// outage is how long the sources are away in TestRecordingResumesAfterOutage.
const outage = 10 * time.Second

// TestRecordingResumesAfterOutage takes two cameras away for 10 s — an
// H.264 camera whose RTSP server answers 503 meanwhile (a camera
// rebooting), an H.265 one whose server is gone (connection refused) —
// and checks the stored footage resumes within outage + 2 s, with the
// default retry settings.
func TestRecordingResumesAfterOutage(t *testing.T) {
	type result struct {
		codec string
		gap   time.Duration
	}
	var wg sync.WaitGroup
	results := make(chan result, 2)
	for _, codec := range []string{"h264", "h265"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gap, err := outageGap(t, codec)
			if err != "" {
				t.Error(codec + ": " + err)
				return
			}
			results <- result{codec, gap}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		t.Logf("%s: %v gap in the footage after a %v outage", r.codec, r.gap.Round(time.Millisecond), outage)
		if r.gap > outage+2*time.Second {
			t.Errorf("%s: recording resumed %v after a %v outage, want at most %v", r.codec, r.gap, outage, outage+2*time.Second)
		}
	}
}

// outageGap records one camera, takes its source away for outage and
// returns the gap between the footage before and after.
func outageGap(t *testing.T, codec string) (time.Duration, string) {
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 1, Codec: codec, Bitrate: 1_000_000})
	if err != nil {
		return 0, err.Error()
	}
	if err := srv.Start(); err != nil {
		return 0, err.Error()
	}
	addr := srv.Addr().String()
	defer func() { srv.Close() }()
	sink := newMemSink()
	c := New(Options{Camera: "cam1", URL: srv.URL(1), Sink: sink})
	stop := runCamera(c)
	defer stop()

	if !waitFrags(sink, 3, 20*time.Second) {
		return 0, "never recorded"
	}
	if codec == "h264" {
		srv.SetOffline(1, true)
	} else {
		srv.Close()
	}
	down := time.Now()
	if !waitUntil(10*time.Second, func() bool { return !c.Stats().Connected }) {
		return 0, "did not notice the outage"
	}
	_, before := sink.snapshot()
	time.Sleep(outage - time.Since(down))
	if codec == "h264" {
		srv.SetOffline(1, false)
	} else {
		srv, err = simcam.New(simcam.Options{Listen: addr, Cameras: 1, Codec: codec, Bitrate: 1_000_000})
		if err != nil {
			return 0, err.Error()
		}
		if err := srv.Start(); err != nil {
			return 0, "restart on " + addr + ": " + err.Error()
		}
	}
	if !waitFrags(sink, len(before)+1, 20*time.Second) {
		return 0, "did not resume"
	}
	_, frags := sink.snapshot()
	last, next := frags[len(before)-1], frags[len(before)]
	if !next.Discontinuity || !next.Keyframe {
		return 0, "first fragment after the outage is not a flagged keyframe"
	}
	return next.Start.Sub(last.Start.Add(last.Duration)), ""
}

func waitFrags(s *memSink, n int, within time.Duration) bool {
	return waitUntil(within, func() bool { _, f := s.snapshot(); return len(f) >= n })
}

func waitUntil(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
