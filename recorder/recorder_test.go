package recorder

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"mimamori/core"
	"mimamori/recorder/ring"
	"mimamori/simcam"
)

// memLedger is an in-memory Ledger for recorder tests that do not need
// a real core.Store.
type memLedger struct {
	mu       sync.Mutex
	erasures []core.Erasure
	events   []core.RecordingEvent
	holds    []core.HoldRange
}

func (l *memLedger) RecordErasure(e core.Erasure) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erasures = append(l.erasures, e)
	return nil
}

func (l *memLedger) RecordEvent(ev core.RecordingEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
	return nil
}

func (l *memLedger) ActiveHolds(now time.Time) []core.HoldRange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]core.HoldRange(nil), l.holds...)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startSimcam(t testing.TB, cameras int, bitrate int64) *simcam.Server {
	t.Helper()
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: cameras, Codec: "h264", Bitrate: bitrate})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// recordedAUs reads back every fragment of camera in order and returns
// its samples as NAL unit lists, checking fragment continuity on the way.
func recordedAUs(t *testing.T, rg *ring.Ring, camera string, from, to time.Time) [][][]byte {
	t.Helper()
	refs, err := rg.Fragments(camera, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) < 2 {
		t.Fatalf("%s: only %d fragments recorded", camera, len(refs))
	}
	var aus [][][]byte
	for i, ref := range refs {
		if i > 0 {
			prevEnd := refs[i-1].Start.Add(refs[i-1].Duration)
			if d := ref.Start.Sub(prevEnd); d < -time.Millisecond || d > time.Millisecond {
				t.Fatalf("%s: fragment %d starts %v after the previous one ends (want contiguous)", camera, i, d)
			}
		}
		if ref.Duration > 1500*time.Millisecond {
			t.Fatalf("%s: fragment %d lasts %v, want about 1 s at most", camera, i, ref.Duration)
		}
		payload, err := rg.ReadFragment(ref)
		if err != nil {
			t.Fatalf("%s: read fragment %d: %v", camera, i, err)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(payload); err != nil {
			t.Fatalf("%s: fragment %d is not fMP4: %v", camera, i, err)
		}
		for _, p := range parts {
			for _, tr := range p.Tracks {
				for _, s := range tr.Samples {
					var au h264.AVCC
					if err := au.Unmarshal(s.Payload); err != nil {
						t.Fatalf("%s: sample in fragment %d: %v", camera, i, err)
					}
					aus = append(aus, au)
				}
			}
		}
	}
	return aus
}

func sameAU(a [][]byte, b [][]byte) bool {
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

// TestRecordsSimcamBitExact records two simulated cameras over real RTSP
// on loopback and checks that what the index returns is contiguous and
// equal, access unit by access unit, to what the cameras sent.
func TestRecordsSimcamBitExact(t *testing.T) {
	const bitrate = 1_000_000
	srv := startSimcam(t, 2, bitrate)
	sent, err := simcam.Stream("h264", bitrate)
	if err != nil {
		t.Fatal(err)
	}
	ledger := &memLedger{}
	rec, err := New(Options{
		DataDir:      t.TempDir(),
		Capacity:     64 << 20,
		BlockSize:    1 << 20,
		Retention:    24 * time.Hour,
		SyncInterval: 200 * time.Millisecond,
		Cameras: []Camera{
			{ID: "cam1", URL: srv.URL(1)},
			{ID: "cam2", URL: srv.URL(2)},
		},
		Ledger: ledger,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); rec.Run(ctx) }()
	time.Sleep(5 * time.Second)
	cancel()
	<-done
	defer rec.Close()

	for _, cam := range []string{"cam1", "cam2"} {
		aus := recordedAUs(t, rec.Ring(), cam, start.Add(-time.Minute), time.Now().Add(time.Minute))
		if len(aus) < 50 {
			t.Fatalf("%s: %d access units recorded in 5 s, want at least 50", cam, len(aus))
		}
		// Find where in the looping clip recording began: the first
		// recorded AU must be an IDR somewhere in the sent stream.
		startIdx := -1
		for i := range sent {
			if sent[i].IDR && sameAU(sent[i].NALUs, aus[0]) {
				startIdx = i
				break
			}
		}
		if startIdx < 0 {
			t.Fatalf("%s: first recorded access unit is not an IDR the camera sent", cam)
		}
		for i, au := range aus {
			want := sent[(startIdx+i)%len(sent)]
			if !sameAU(want.NALUs, au) {
				t.Fatalf("%s: access unit %d differs from what the camera sent (%d NALUs vs %d)", cam, i, len(au), len(want.NALUs))
			}
		}
		spans, err := rec.Coverage(cam, start.Add(-time.Minute), time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(spans) != 1 {
			t.Fatalf("%s: %d coverage spans, want 1 contiguous span: %v", cam, len(spans), spans)
		}
		t.Logf("%s: %d access units, span %v", cam, len(aus), spans[0].End.Sub(spans[0].Start))
	}
	st := rec.Stats()
	if len(st.Cameras) != 2 {
		t.Fatalf("stats for %d cameras, want 2", len(st.Cameras))
	}
	for _, c := range st.Cameras {
		if c.Codec == "" || c.Width != 1280 || c.BytesStored == 0 {
			t.Errorf("camera stats incomplete: %+v", c)
		}
	}
	_ = fmt.Sprint
}
