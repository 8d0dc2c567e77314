package ingest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// runCamera starts c.Run and returns a stop function that waits for it.
func runCamera(c *Camera) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.Run(ctx)
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRTSPBitExactH264WithSPSChange(t *testing.T) {
	_, a := loadClip(t, "testdata/h264_320.ts")
	_, b := loadClip(t, "testdata/h264_352.ts")
	// One loop = 4 s at 320x240 then 2 s at 352x288, timestamps continuous.
	off := a[len(a)-1].dts + 3600
	for _, x := range b {
		x.pts += off
		x.dts += off
		a = append(a, x)
	}
	cam := &fakeCam{tb: t, addr: freeAddr(t), codec: codecH264, aus: withAUD(a), speed: 3}
	cam.start()
	defer cam.close()

	sink := newMemSink()
	ev := &memEvents{}
	c := New(Options{Camera: "cam1", URL: "rtsp://" + cam.addr + "/cam1", Sink: sink, Events: ev})
	stop := runCamera(c)
	// Enough for the 320→352→320 switches (a loop is 6 s of stream).
	sink.waitFrags(t, 16, 30*time.Second)
	st := c.Stats()
	stop()

	inits, frags := sink.snapshot()
	samples := parseFragments(t, frags)
	sent := cam.sentLog()
	k := matchSent(t, samples, sent)
	if len(inits) < 2 {
		t.Fatalf("%d inits, want a new one at the SPS change", len(inits))
	}
	var total time.Duration
	for i, f := range frags {
		total += f.Duration
		if f.Duration > time.Second {
			var durs []int64
			for _, s := range samples {
				if s.fragment == i {
					durs = append(durs, s.dur)
				}
			}
			t.Fatalf("fragment %d lasts %v: %v", i, f.Duration, durs)
		}
		if i > 0 && f.InitID != frags[i-1].InitID && !f.Keyframe {
			t.Fatalf("fragment %d: new init but no keyframe", i)
		}
	}
	last := k + len(samples) - 1
	span := ticksToDur(sent[last].dts-sent[k].dts) + 40*time.Millisecond
	// The DTS extractor relearns the B-frame depth after each SPS change,
	// shifting up to one frame each time.
	tol := time.Duration(len(inits)) * 40 * time.Millisecond
	if d := total - span; d < -tol || d > tol {
		t.Fatalf("durations sum to %v, sent span %v", total, span)
	}
	if st.State != StateRecording || !st.Connected || st.Codec != "H264" || st.Width == 0 || st.FPS <= 0 || st.BitrateBps <= 0 {
		t.Fatalf("stats while recording: %+v", st)
	}
	if ev.kinds()[EventCameraUp] != 1 {
		t.Fatalf("events %v", ev.kinds())
	}
	if st := c.Stats(); st.State != StateStopped || st.Connected {
		t.Fatalf("stats after stop: %+v", st)
	}
	t.Logf("%d samples from sent #%d, %d fragments, %d inits, %v stored; stats %.1f fps %.0f bit/s",
		len(samples), k, len(frags), len(inits), total, st.FPS, st.BitrateBps)
}

func TestRTSPBitExactH265(t *testing.T) {
	_, aus := loadClip(t, "testdata/h265_320.ts")
	cam := &fakeCam{tb: t, addr: freeAddr(t), codec: codecH265, aus: aus, speed: 3}
	cam.start()
	defer cam.close()

	sink := newMemSink()
	c := New(Options{Camera: "cam1", URL: "rtsp://" + cam.addr + "/cam1", Sink: sink})
	stop := runCamera(c)
	sink.waitFrags(t, 6, 30*time.Second)
	stop()
	_, frags := sink.snapshot()
	matchSent(t, parseFragments(t, frags), cam.sentLog())
	if st := c.Stats(); st.Codec != "H265" || st.Width != 320 || st.Height != 240 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRTSPReconnect(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	addr := freeAddr(t)
	cam := &fakeCam{tb: t, addr: addr, codec: codecH264, aus: aus, speed: 2}
	cam.start()

	sink := newMemSink()
	ev := &memEvents{}
	c := New(Options{Camera: "cam1", URL: "rtsp://" + addr + "/cam1", Sink: sink, Events: ev,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	stop := runCamera(c)
	defer stop()
	sink.waitFrags(t, 2, 20*time.Second)

	cam.close() // the camera goes away
	waitFor(t, 20*time.Second, "error state", func() bool {
		st := c.Stats()
		return !st.Connected && st.State != StateRecording
	})
	_, before := sink.snapshot()

	cam = &fakeCam{tb: t, addr: addr, codec: codecH264, aus: aus, speed: 2}
	cam.start()
	defer cam.close()
	sink.waitFrags(t, len(before)+3, 30*time.Second)
	waitFor(t, 20*time.Second, "recording again", func() bool { return c.Stats().State == StateRecording })

	st := c.Stats()
	if st.Reconnects == 0 || !st.Connected {
		t.Fatalf("stats after comeback: %+v", st)
	}
	k := ev.kinds()
	if k[EventCameraDown] == 0 || k[EventCameraUp] < 2 {
		t.Fatalf("events %v", k)
	}
	_, frags := sink.snapshot()
	parseFragments(t, frags)
	sawDisc := false
	for i := 1; i < len(frags); i++ {
		if frags[i].Start.Before(frags[i-1].Start.Add(frags[i-1].Duration)) {
			t.Fatalf("fragment %d starts before the previous end", i)
		}
		if i >= len(before) && frags[i].Discontinuity {
			sawDisc = true
		}
	}
	if !sawDisc {
		t.Fatal("first fragment after the reconnect is not flagged as a new timeline")
	}
	t.Logf("reconnects %d, last error %q", st.Reconnects, st.LastError)
}

func TestRTSPWrongPasswordIsolated(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	cam := &fakeCam{tb: t, addr: freeAddr(t), codec: codecH264, aus: aus, user: "admin", pass: "s3cret", speed: 2}
	cam.start()
	defer cam.close()

	good, bad := newMemSink(), newMemSink()
	opts := func(name, cred string, s Sink) Options {
		return Options{Camera: name, URL: "rtsp://" + cred + "@" + cam.addr + "/" + name, Sink: s,
			BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond}
	}
	cg := New(opts("good", "admin:s3cret", good))
	cb := New(opts("bad", "admin:wrong", bad))
	stopG, stopB := runCamera(cg), runCamera(cb)
	defer stopG()
	defer stopB()

	good.waitFrags(t, 3, 20*time.Second)
	waitFor(t, 10*time.Second, "bad camera in error with retries", func() bool {
		st := cb.Stats()
		return st.State == StateError && st.Reconnects >= 2
	})
	st := cb.Stats()
	if !strings.Contains(st.LastError, "401") && !strings.Contains(strings.ToLower(st.LastError), "unauthorized") {
		t.Fatalf("bad camera last error %q", st.LastError)
	}
	if inits, frags := bad.snapshot(); len(inits)+len(frags) != 0 {
		t.Fatal("the camera with the wrong password wrote something")
	}
	if gs := cg.Stats(); gs.State != StateRecording || gs.Reconnects != 0 {
		t.Fatalf("good camera disturbed: %+v", gs)
	}
	_, frags := good.snapshot()
	matchSent(t, parseFragments(t, frags), cam.sentLog())
}

func TestRTSPStallReconnects(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	cam := &fakeCam{tb: t, addr: freeAddr(t), codec: codecH264, aus: aus, speed: 2}
	cam.start()
	defer cam.close()

	sink := newMemSink()
	c := New(Options{Camera: "cam1", URL: "rtsp://" + cam.addr + "/cam1", Sink: sink,
		StallTimeout: 300 * time.Millisecond, BackoffMin: 50 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	stop := runCamera(c)
	defer stop()
	sink.waitFrags(t, 2, 20*time.Second)

	cam.paused.Store(true) // connection stays up, frames stop
	waitFor(t, 10*time.Second, "stall detected", func() bool {
		st := c.Stats()
		return st.Reconnects > 0 && strings.Contains(st.LastError, "stalled")
	})
	cam.paused.Store(false)
	_, before := sink.snapshot()
	sink.waitFrags(t, len(before)+2, 20*time.Second)
}

func TestRTSPTimestampJump(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	cam := &fakeCam{tb: t, addr: freeAddr(t), codec: codecH264, aus: aus, speed: 3,
		jumpAt: 60, jump: -3600 * clockRate} // the camera's RTP clock steps back an hour
	cam.start()
	defer cam.close()

	sink := newMemSink()
	ev := &memEvents{}
	c := New(Options{Camera: "cam1", URL: "rtsp://" + cam.addr + "/cam1", Sink: sink, Events: ev})
	stop := runCamera(c)
	waitFor(t, 20*time.Second, "discontinuity", func() bool { return c.Stats().Discontinuities > 0 })
	_, before := sink.snapshot()
	sink.waitFrags(t, len(before)+2, 20*time.Second)
	stop()

	if ev.kinds()[EventDiscontinuity] == 0 {
		t.Fatalf("events %v", ev.kinds())
	}
	for _, e := range ev.evs {
		t.Logf("event %s %v", e.Kind, e.Details)
	}
	_, frags := sink.snapshot()
	samples := parseFragments(t, frags)
	matchSent(t, samples, cam.sentLog())
	disc := 0
	for i, f := range frags {
		if f.Discontinuity {
			disc++
		}
		if i > 0 && f.Start.Before(frags[i-1].Start.Add(frags[i-1].Duration)) {
			t.Fatalf("fragment %d goes back in time", i)
		}
	}
	if disc == 0 {
		t.Fatal("no fragment flagged")
	}
}

func TestRTSPOverUDP(t *testing.T) {
	_, aus := loadClip(t, "testdata/h264_320.ts")
	cam := &fakeCam{tb: t, addr: freeAddr(t), codec: codecH264, aus: aus, speed: 2, udpRTP: freeUDPPair(t)}
	cam.start()
	defer cam.close()

	sink := newMemSink()
	c := New(Options{Camera: "cam1", URL: "rtsp://" + cam.addr + "/cam1", Transport: "udp", Sink: sink})
	stop := runCamera(c)
	sink.waitFrags(t, 3, 20*time.Second)
	stop()
	_, frags := sink.snapshot()
	// Loopback UDP does not lose packets in practice; if it ever does the
	// decoder drops to the next IDR and this match fails loudly.
	matchSent(t, parseFragments(t, frags), cam.sentLog())
}
