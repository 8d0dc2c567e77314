package ingest

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"mimamori/simcam"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFaultyCamerasLogByRate: cameras that misbehave all the time — a
// lossy network, an encoder restarting at every keyframe, timestamps
// going back at every GOP, an oversize NAL unit every other keyframe —
// each interrupt recording about once a second. Every interruption is an
// event for the ledger (core coalesces them); the log gets the first of
// each kind and then a line with the count at most every few minutes, not
// a line per interruption.
func TestFaultyCamerasLogByRate(t *testing.T) {
	faults := map[int]simcam.Fault{
		1: {DropPacketEvery: 60},
		2: {SSRCChangeEvery: 1},
		3: {BackwardsTimestamps: true},
		4: {HugeNALU: 9 << 20, HugeNALUEvery: 2},
	}
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: len(faults), Codec: "h264", Bitrate: 1_000_000, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var cams []*Camera
	var evs []*memEvents
	for i := range faults {
		ev := &memEvents{}
		c := New(Options{Camera: fmt.Sprintf("cam%d", i), URL: srv.URL(i), Sink: newMemSink(), Events: ev, Logger: log})
		t.Cleanup(runCamera(c))
		cams = append(cams, c)
		evs = append(evs, ev)
	}
	events := func(i int) int {
		n := 0
		for k, v := range evs[i].kinds() {
			if k != EventCameraUp {
				n += v
			}
		}
		return n
	}
	waitFor(t, 60*time.Second, "every camera interrupted 8 times", func() bool {
		for i := range cams {
			if events(i) < 8 {
				return false
			}
		}
		return true
	})
	for i, c := range cams {
		name := c.o.Camera
		n := 0
		var lines []string
		for _, ln := range strings.Split(logs.String(), "\n") {
			if strings.Contains(ln, "camera="+name+" ") || strings.HasSuffix(ln, "camera="+name) {
				n++
				lines = append(lines, ln)
			}
		}
		t.Logf("%s: %d events %v, %d log lines", name, events(i), evs[i].kinds(), n)
		if n > 6 {
			t.Errorf("%s: %d log lines for %d events:\n%s", name, n, events(i), strings.Join(lines, "\n"))
		}
	}
}

// TestFlappingCameraLogsByRate: a camera whose connection drops every few
// seconds after it recorded (a flaky link, a camera rebooting) is one run
// of failures, not a new one per connection: its first drop and first
// reconnect are logged, the rest only as the 5-minute reminder — not two
// lines per cycle (40 lines a minute before, at one drop every 3 s).
func TestFlappingCameraLogsByRate(t *testing.T) {
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 1, Codec: "h264", Bitrate: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	logs := &syncBuf{}
	sink := newMemSink()
	c := New(Options{Camera: "cam1", URL: srv.URL(1), Sink: sink, Events: &memEvents{},
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(runCamera(c))
	const cycles = 5
	for i := 0; i <= cycles; i++ {
		_, frags := sink.snapshot()
		if !waitFrags(sink, len(frags)+1, 30*time.Second) {
			t.Fatalf("cycle %d: nothing recorded after the reconnect", i)
		}
		if i == cycles {
			break
		}
		srv.SetOffline(1, true)
		if !waitUntil(10*time.Second, func() bool { return !c.Stats().Connected }) {
			t.Fatalf("cycle %d: the drop was not noticed", i)
		}
		srv.SetOffline(1, false)
	}
	var lines []string
	for _, ln := range strings.Split(logs.String(), "\n") {
		if strings.Contains(ln, `msg="ingest `) {
			lines = append(lines, ln)
		}
	}
	// connected, connection ended, connected again: then quiet.
	if len(lines) > 3 {
		t.Errorf("%d connection log lines for %d drops:\n%s", len(lines), cycles, strings.Join(lines, "\n"))
	}
	if len(lines) < 2 || !strings.Contains(lines[0], "ingest connected") || !strings.Contains(lines[1], "ingest connection ended") {
		t.Errorf("the first connect and the first drop must be logged:\n%s", strings.Join(lines, "\n"))
	}
}

// TestCameraBackAfterAnOutageIsLogged: the reconnect that ends an outage
// (after failed attempts) is logged at info, whatever the attempts before
// it: rate-limiting a flapping camera must not hide a camera coming back.
func TestCameraBackAfterAnOutageIsLogged(t *testing.T) {
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 1, Codec: "h264", Bitrate: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	logs := &syncBuf{}
	sink := newMemSink()
	c := New(Options{Camera: "cam1", URL: srv.URL(1), Sink: sink, Events: &memEvents{},
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(runCamera(c))
	if !waitFrags(sink, 1, 30*time.Second) {
		t.Fatal("never recorded")
	}
	srv.SetOffline(1, true)
	before := c.Stats().Reconnects
	if !waitUntil(30*time.Second, func() bool { return c.Stats().Reconnects >= before+3 }) {
		t.Fatal("no failed attempts during the outage")
	}
	srv.SetOffline(1, false)
	_, frags := sink.snapshot()
	if !waitFrags(sink, len(frags)+1, 30*time.Second) {
		t.Fatal("nothing recorded after the outage")
	}
	if n := strings.Count(logs.String(), `msg="ingest connected"`); n != 2 {
		t.Errorf("%d info lines \"ingest connected\", want 2 (the first connect and the one after the outage):\n%s", n, logs.String())
	}
}
