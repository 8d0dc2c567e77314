package ingest

import (
	"strings"
	"testing"
	"time"

	"mimamori/simcam"
)

// faultCam records camera 1 of a simcam server that has fault f.
func faultCam(t *testing.T, f simcam.Fault, bitrate int64) (*simcam.Server, *Camera, *memSink, *memEvents, func()) {
	t.Helper()
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 1, Codec: "h264", Bitrate: bitrate,
		Faults: map[int]simcam.Fault{1: f}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	sink, ev := newMemSink(), &memEvents{}
	c := New(Options{Camera: "cam1", URL: srv.URL(1), Sink: sink, Events: ev})
	stop := runCamera(c)
	t.Cleanup(stop)
	return srv, c, sink, ev, stop
}

// checkAgainstLoop asserts that every stored sample is, byte for byte,
// one of the access units the camera loops, and that wherever the stored
// samples skip sent ones the next stored sample is an IDR opening a
// fragment flagged as a discontinuity. It returns the number of such
// breaks.
func checkAgainstLoop(t *testing.T, frags []Fragment, loop []simcam.AccessUnit) int {
	t.Helper()
	samples := parseFragments(t, frags)
	index := func(s parsedSample) int {
		for j, a := range loop {
			if sameNALUs(s.nalus, a.NALUs) {
				return j
			}
		}
		return -1
	}
	breaks := 0
	prev := -1
	for i, s := range samples {
		j := index(s)
		if j < 0 {
			t.Fatalf("stored sample %d (fragment %d, %d NAL units) is not an access unit the camera sent: "+
				"a partial or merged frame", i, s.fragment, len(s.nalus))
		}
		if prev >= 0 && j != (prev+1)%len(loop) {
			breaks++
			f := frags[s.fragment]
			first := i == 0 || samples[i-1].fragment != s.fragment
			if !first || !f.Discontinuity || !f.Keyframe || !loop[j].IDR {
				t.Fatalf("sample %d follows sent AU %d with sent AU %d: first in fragment %v, discontinuity %v, keyframe %v, IDR %v",
					i, prev, j, first, f.Discontinuity, f.Keyframe, loop[j].IDR)
			}
			if s.fragment > 0 {
				p := frags[s.fragment-1]
				if f.Start.Before(p.Start.Add(p.Duration)) {
					t.Fatalf("fragment %d after a break starts before the previous one ended", s.fragment)
				}
			}
		}
		prev = j
	}
	return breaks
}

// TestPacketLossWaitsForKeyframe: after a lost RTP packet nothing is
// stored until the next keyframe, which opens a fragment flagged as a
// discontinuity; no partial frame is ever stored; the loss is counted and
// ledgered.
func TestPacketLossWaitsForKeyframe(t *testing.T) {
	srv, c, sink, ev, _ := faultCam(t, simcam.Fault{DropPacketEvery: 250}, 1_000_000)
	waitFor(t, 30*time.Second, "three losses", func() bool { return c.Stats().PacketsLost >= 3 })
	_, before := sink.snapshot()
	sink.waitFrags(t, len(before)+1, 10*time.Second)
	_, frags := sink.snapshot()
	breaks := checkAgainstLoop(t, frags, srv.AccessUnits(1))
	st := c.Stats()
	if breaks == 0 || st.Discontinuities == 0 || st.DroppedFrames == 0 {
		t.Fatalf("%d breaks in the stored footage; stats %+v", breaks, st)
	}
	if n := ev.kinds()[EventPacketLoss]; n == 0 || n > int(st.PacketsLost) {
		t.Fatalf("%d packet-loss events for %d lost packets", n, st.PacketsLost)
	}
	if st.State != StateRecording || st.Reconnects != 0 {
		t.Fatalf("a lossy camera is still recording on its connection: %+v", st)
	}
	t.Logf("%d fragments, %d breaks, %d packets lost, %d frames dropped", len(frags), breaks, st.PacketsLost, st.DroppedFrames)
}

// TestSSRCChangeFollowedWithoutReconnect: a camera that restarts its RTP
// source (new SSRC, sequence numbers and timestamps) every other keyframe
// goes on recording on the same connection.
func TestSSRCChangeFollowedWithoutReconnect(t *testing.T) {
	srv, c, sink, ev, _ := faultCam(t, simcam.Fault{SSRCChangeEvery: 2}, 1_000_000)
	waitFor(t, 30*time.Second, "three source restarts followed", func() bool { return c.Stats().SSRCChanges >= 3 })
	_, before := sink.snapshot()
	sink.waitFrags(t, len(before)+2, 10*time.Second)
	st := c.Stats()
	if st.Reconnects != 0 || st.State != StateRecording {
		t.Fatalf("source restarts cost a reconnect: %+v", st)
	}
	_, frags := sink.snapshot()
	checkAgainstLoop(t, frags, srv.AccessUnits(1))
	if ev.kinds()[EventSSRCChange] == 0 {
		t.Fatalf("events %v", ev.kinds())
	}
	// The restarts come at keyframes, so almost nothing is lost: the
	// stored footage covers the wall time it took.
	var stored time.Duration
	for _, f := range frags {
		stored += f.Duration
	}
	span := frags[len(frags)-1].Start.Add(frags[len(frags)-1].Duration).Sub(frags[0].Start)
	if stored < span*9/10 {
		t.Fatalf("stored %v of %v across %d source restarts", stored, span, st.SSRCChanges)
	}
	t.Logf("simcam restarted its source %d times; %d followed; stored %v of %v", srv.Restarts(1), st.SSRCChanges, stored, span)
}

// TestOversizeNALDroppedWithEvent: a 10 MB NAL unit on every third
// keyframe is dropped whole, ledgered and counted; no stored frame merges
// its parameter sets or slices with the next access unit, and recording
// resumes at the next keyframe.
func TestOversizeNALDroppedWithEvent(t *testing.T) {
	srv, c, sink, ev, _ := faultCam(t, simcam.Fault{HugeNALU: 10_000_000, HugeNALUEvery: 3}, 1_000_000)
	waitFor(t, 40*time.Second, "two oversize units", func() bool { return c.Stats().OversizeUnits >= 2 })
	_, before := sink.snapshot()
	sink.waitFrags(t, len(before)+1, 10*time.Second)
	_, frags := sink.snapshot()
	breaks := checkAgainstLoop(t, frags, srv.AccessUnits(1))
	st := c.Stats()
	if n := ev.kinds()[EventOversizeNAL]; n == 0 || breaks == 0 {
		t.Fatalf("%d oversize-nal events, %d breaks; stats %+v", n, breaks, st)
	}
	if st.Reconnects != 0 || !strings.Contains(st.LastError, "too big") {
		t.Fatalf("stats %+v", st)
	}
	for _, e := range ev.evs {
		if e.Kind == EventOversizeNAL {
			t.Logf("event %s %v", e.Kind, e.Details)
			break
		}
	}
}

// TestGarbageStreamShownInvalid: a camera sending random payloads is
// "stream-invalid" in health, with the reason and a count, and the state
// is ledgered once with its end when the connection goes.
func TestGarbageStreamShownInvalid(t *testing.T) {
	_, c, _, ev, stopCam := faultCam(t, simcam.Fault{GarbageRTP: true}, 0)
	waitFor(t, 20*time.Second, "stream-invalid", func() bool { return c.Stats().State == StateStreamInvalid })
	st := c.Stats()
	if st.InvalidPayloads == 0 || st.LastError == "" || !st.Connected {
		t.Fatalf("stats %+v", st)
	}
	time.Sleep(3 * time.Second) // it stays invalid; no second start event
	if st := c.Stats(); st.State != StateStreamInvalid {
		t.Fatalf("state went back to %q", st.State)
	}
	if k := ev.kinds(); k[EventStreamInvalid] != 1 || k[EventStreamInvalidEnd] != 0 {
		t.Fatalf("events %v", k)
	}
	stopCam()
	if k := ev.kinds(); k[EventStreamInvalid] != 1 || k[EventStreamInvalidEnd] != 1 {
		t.Fatalf("events after the connection ended: %v", k)
	}
	t.Logf("invalid payloads %d: %s", st.InvalidPayloads, st.LastError)
}
