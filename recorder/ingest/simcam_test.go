package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mimamori/simcam"
)

// TestSimcamFaultsIsolated records six simulated cameras at once, five of
// them misbehaving, and checks the healthy one is stored bit for bit while
// each broken one is handled on its own.
func TestSimcamFaultsIsolated(t *testing.T) {
	srv, err := simcam.New(simcam.Options{
		Listen: "127.0.0.1:0", Cameras: 6, Codec: "h264", Bitrate: 1_000_000,
		Faults: map[int]simcam.Fault{
			2: {GarbageRTP: true},
			3: {NoSPS: true},
			4: {BackwardsTimestamps: true},
			5: {HugeNALU: 9 << 20},
			6: {BitrateFactor: 10},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	type cam struct {
		c    *Camera
		sink *memSink
		ev   *memEvents
	}
	cams := make([]cam, 7)
	for i := 1; i <= 6; i++ {
		cams[i] = cam{sink: newMemSink(), ev: &memEvents{}}
		cams[i].c = New(Options{Camera: fmt.Sprintf("cam%d", i), URL: srv.URL(i), Sink: cams[i].sink,
			Events: cams[i].ev, BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
		stop := runCamera(cams[i].c)
		defer stop()
	}

	cams[1].sink.waitFrags(t, 6, 30*time.Second)
	cams[6].sink.waitFrags(t, 6, 30*time.Second)
	waitFor(t, 30*time.Second, "backwards camera discontinuities", func() bool {
		return cams[4].c.Stats().Discontinuities >= 1
	})
	_, before := cams[4].sink.snapshot()
	cams[4].sink.waitFrags(t, len(before)+3, 30*time.Second)

	// cam1: stored exactly as sent.
	_, frags := cams[1].sink.snapshot()
	samples := parseFragments(t, frags)
	loop := srv.AccessUnits(1)
	var sent []sentAU
	for r := 0; r < 3; r++ {
		for _, a := range loop {
			sent = append(sent, sentAU{nalus: a.NALUs, key: a.IDR})
		}
	}
	if len(samples) > len(sent)-len(loop) {
		samples = samples[:len(sent)-len(loop)]
	}
	matchSent(t, samples, sent)
	if st := cams[1].c.Stats(); st.State != StateRecording || st.Reconnects != 0 || st.DroppedFrames != 0 {
		t.Fatalf("healthy camera: %+v", st)
	}

	// cam2: garbage RTP never becomes footage.
	// cam2: garbage RTP is counted; the odd random packet that happens to
	// look like a frame may be stored as received, but garbage never
	// replaces the parameter sets (at most the SDP's init).
	inits, fr := cams[2].sink.snapshot()
	if len(inits) > 1 {
		t.Fatalf("garbage camera wrote %d inits", len(inits))
	}
	parseFragments(t, fr)
	if cams[2].c.st.decodeErrors.Load() == 0 {
		t.Fatal("garbage camera: no decode errors counted")
	}
	// cam3: no SPS, no init, shown as an invalid stream with its reason.
	if inits, fr := cams[3].sink.snapshot(); len(inits)+len(fr) != 0 {
		t.Fatal("camera without SPS wrote something")
	}
	if st := cams[3].c.Stats(); st.State != StateStreamInvalid || st.MissingParams == 0 || !strings.Contains(st.LastError, "parameter sets") {
		t.Fatalf("no-SPS camera: %+v", st)
	}
	if k := cams[3].ev.kinds(); k[EventStreamInvalid] != 1 {
		t.Fatalf("no-SPS camera events %v", k)
	}
	// cam4: time never goes backwards in storage.
	_, frags = cams[4].sink.snapshot()
	parseFragments(t, frags)
	for i := 1; i < len(frags); i++ {
		if frags[i].Start.Before(frags[i-1].Start.Add(frags[i-1].Duration)) {
			t.Fatalf("cam4 fragment %d goes back in time", i)
		}
	}
	if cams[4].ev.kinds()[EventDiscontinuity] == 0 {
		t.Fatalf("cam4 events %v", cams[4].ev.kinds())
	}
	// cam5: huge IDRs are refused; nothing unreadable is stored.
	_, frags = cams[5].sink.snapshot()
	parseFragments(t, frags)
	// cam6: 10× bitrate is just recorded.
	_, frags = cams[6].sink.snapshot()
	parseFragments(t, frags)
	for i := 1; i <= 6; i++ {
		st := cams[i].c.Stats()
		t.Logf("cam%d: state=%s frames stored=%d fps=%.1f bitrate=%.0f dropped=%d disc=%d reconnects=%d err=%q",
			i, st.State, len(cams[i].sink.frags), st.FPS, st.BitrateBps, st.DroppedFrames, st.Discontinuities, st.Reconnects, st.LastError)
	}
}
