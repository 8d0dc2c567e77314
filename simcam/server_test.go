package simcam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

const frameTicks = 3600 // FrameDuration at 90 kHz

func startServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// receivedAU is one access unit as a real client decoded it.
type receivedAU struct {
	nalus [][]byte
	ts    uint32
}

type session struct {
	desc *description.Session
	aus  []receivedAU
	raw  []uint32 // RTP timestamps of every packet, in arrival order
	errs int      // decode errors after the first AU
}

// receive plays url with a real gortsplib client until n access units
// arrived (or, if n == 0, until dur passed).
func receive(t *testing.T, url string, transport gortsplib.Transport, n int, dur time.Duration) (*session, error) {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		return nil, err
	}
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &transport}
	if err := c.Start2(); err != nil {
		return nil, err
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		return nil, err
	}
	medi := desc.Medias[0]
	forma := medi.Formats[0]
	var decode func(*rtp.Packet) ([][]byte, error)
	switch f := forma.(type) {
	case *format.H264:
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		decode = d.Decode
	case *format.H265:
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		decode = d.Decode
	default:
		return nil, fmt.Errorf("unexpected format %T", forma)
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return nil, err
	}
	s := &session{desc: desc}
	var mu sync.Mutex
	done := make(chan struct{})
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if n > 0 && len(s.aus) >= n {
			return
		}
		s.raw = append(s.raw, pkt.Timestamp)
		nalus, err := decode(pkt)
		if err != nil {
			if len(s.aus) > 0 && !strings.Contains(err.Error(), "need more packets") {
				s.errs++
			}
			return
		}
		s.aus = append(s.aus, receivedAU{nalus: nalus, ts: pkt.Timestamp})
		if n > 0 && len(s.aus) == n {
			close(done)
		}
	})
	if _, err := c.Play(nil); err != nil {
		return nil, err
	}
	limit := 20 * time.Second
	if n == 0 {
		limit = dur
	}
	select {
	case <-done:
	case <-time.After(limit):
		if n > 0 {
			return nil, fmt.Errorf("only %d of %d access units in %v", len(s.aus), n, limit)
		}
	}
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	return s, nil
}

// checkAgainst asserts that, from the first IDR (or a whole frame before it) on, the received access units
// are want's, consecutive (looping) and with timestamps one frame apart.
// It returns how many were checked and whether the clip looped.
func checkAgainst(t *testing.T, got []receivedAU, want []AccessUnit) (checked int, looped bool) {
	t.Helper()
	first := -1
	start := -1
	for i, au := range got {
		for j, w := range want {
			if w.IDR && equalNALUs(au.nalus, w.NALUs) {
				first, start = i, j
				break
			}
		}
		if first >= 0 {
			break
		}
	}
	if first < 0 {
		t.Fatalf("none of %d received AUs is an IDR of the stream", len(got))
	}
	// Frames before the IDR are checked too when they arrived whole (the
	// burnt-in counter makes every frame unique); the first may be partial.
	for first > 0 {
		prev := (start - 1 + len(want)) % len(want)
		if !equalNALUs(got[first-1].nalus, want[prev].NALUs) {
			break
		}
		first, start = first-1, prev
	}
	for k, au := range got[first:] {
		j := (start + k) % len(want)
		if start+k >= len(want) {
			looped = true
		}
		if !equalNALUs(au.nalus, want[j].NALUs) {
			t.Fatalf("received AU %d differs from Stream()[%d] (%d vs %d NALUs)", first+k, j, len(au.nalus), len(want[j].NALUs))
		}
		if d := au.ts - got[first].ts; d != uint32(k*frameTicks) {
			t.Fatalf("AU %d: RTP timestamp %d ticks after the first, want %d", first+k, d, k*frameTicks)
		}
	}
	return len(got) - first, looped
}

func TestCamerasSendStreamOverTCP(t *testing.T) {
	for _, tc := range []struct {
		codec   string
		bitrate int64
	}{{CodecH264, 4_000_000}, {CodecH265, 0}} {
		t.Run(tc.codec, func(t *testing.T) {
			s := startServer(t, Options{Cameras: 2, Codec: tc.codec, Bitrate: tc.bitrate})
			want, err := Stream(tc.codec, tc.bitrate)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			results := make([]*session, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// 2 s plus up to 1 s waiting for the first IDR.
					results[i], errs[i] = receive(t, s.URL(i+1), gortsplib.TransportTCP, 80, 0)
				}()
			}
			wg.Wait()
			for i := range 2 {
				if errs[i] != nil {
					t.Fatalf("cam%d: %v", i+1, errs[i])
				}
				n, _ := checkAgainst(t, results[i].aus, want)
				if n < 50 {
					t.Fatalf("cam%d: only %d AUs after the first IDR", i+1, n)
				}
				if results[i].errs != 0 {
					t.Fatalf("cam%d: %d decode errors", i+1, results[i].errs)
				}
				t.Logf("cam%d: %d AUs equal to Stream()", i+1, n)
				if tc.bitrate > 0 {
					rate := receivedRate(t, results[i].aus, 2)
					if rate < tc.bitrate*9/10 || rate > tc.bitrate*11/10 {
						t.Fatalf("cam%d: received %d bit/s, target %d", i+1, rate, tc.bitrate)
					}
					t.Logf("cam%d: received %d bit/s over 2 whole GOPs (target %d)", i+1, rate, tc.bitrate)
				}
			}
		})
	}
}

// receivedRate is the bitrate (NAL unit bytes) of the first gops whole GOPs
// received, from the frame count rather than the wall clock.
func receivedRate(t *testing.T, aus []receivedAU, gops int) int64 {
	t.Helper()
	k := h264Kinds()
	isIDR := func(au receivedAU) bool {
		for _, n := range au.nalus {
			if k.isVCL(n) && k.isRandomAccess(n) {
				return true
			}
		}
		return false
	}
	first := -1
	bytes, frames, seen := int64(0), 0, 0
	for i, au := range aus {
		if isIDR(au) {
			if first >= 0 {
				seen++
				if seen == gops {
					break
				}
			}
			if first < 0 {
				first = i
			}
		}
		if first >= 0 {
			for _, n := range au.nalus {
				bytes += int64(len(n))
			}
			frames++
		}
	}
	if seen < gops {
		t.Fatalf("fewer than %d whole GOPs received", gops)
	}
	return bytes * 8 * int64(time.Second) / int64(time.Duration(frames)*FrameDuration)
}

func TestCameraLoopsContinuously(t *testing.T) {
	// cam6 starts at frame 5*47 = 235 of 250, so it wraps after 0.6 s;
	// the timestamps must run on across the loop.
	s := startServer(t, Options{Cameras: 6})
	want, _ := Stream(CodecH264, 0)
	if got := startPos(6, len(want)); got != 235 {
		t.Fatalf("cam6 starts at %d", got)
	}
	r, err := receive(t, s.URL(6), gortsplib.TransportTCP, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, looped := checkAgainst(t, r.aus, want); !looped {
		t.Fatal("clip did not loop during the test")
	}
}

func TestCamerasOverUDP(t *testing.T) {
	rtpAddr, rtcpAddr := freeUDPPair(t)
	s := startServer(t, Options{Cameras: 1, UDPRTPAddress: rtpAddr, UDPRTCPAddress: rtcpAddr})
	want, _ := Stream(CodecH264, 0)
	r, err := receive(t, s.URL(1), gortsplib.TransportUDP, 40, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, r.aus, want)
}

// freeUDPPair finds an even port and the next one, both free on 127.0.0.1.
func freeUDPPair(t *testing.T) (string, string) {
	t.Helper()
	for range 100 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		port &^= 1
		if port < 1024 || port > 65000 {
			continue
		}
		p1, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		p2, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
		if p1 != nil {
			p1.Close()
		}
		if p2 != nil {
			p2.Close()
		}
		if err1 == nil && err2 == nil {
			return fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port+1)
		}
	}
	t.Fatal("no free UDP port pair")
	return "", ""
}

func TestCredentials(t *testing.T) {
	s := startServer(t, Options{Cameras: 1, User: "viewer", Pass: "s3cret"})
	plain := s.URL(1)
	withCreds := strings.Replace(plain, "rtsp://", "rtsp://viewer:s3cret@", 1)
	wrong := strings.Replace(plain, "rtsp://", "rtsp://viewer:nope@", 1)

	for _, u := range []string{plain, wrong} {
		_, err := receive(t, u, gortsplib.TransportTCP, 1, 0)
		if err == nil {
			t.Fatalf("%s: played without valid credentials", u)
		}
		if !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "auth") {
			t.Fatalf("%s: unexpected error %v", u, err)
		}
	}
	if _, err := receive(t, withCreds, gortsplib.TransportTCP, 30, 0); err != nil {
		t.Fatalf("valid credentials refused: %v", err)
	}
}

func TestUnknownPath(t *testing.T) {
	s := startServer(t, Options{Cameras: 2})
	for _, p := range []string{"/cam3", "/cam0", "/cam01", "/foo"} {
		u := strings.TrimSuffix(s.URL(1), "/cam1") + p
		if _, err := receive(t, u, gortsplib.TransportTCP, 1, 0); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("%s: got %v, want 404", p, err)
		}
	}
}

func TestFaults(t *testing.T) {
	s := startServer(t, Options{Cameras: 5, Bitrate: 2_000_000, Faults: map[int]Fault{
		1: {GarbageRTP: true},
		2: {NoSPS: true},
		3: {BackwardsTimestamps: true},
		4: {HugeNALU: 300_000},
	}})

	t.Run("GarbageRTP", func(t *testing.T) {
		r, err := receive(t, s.URL(1), gortsplib.TransportTCP, 0, 1500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.raw) == 0 {
			t.Fatal("no packets")
		}
		want := s.AccessUnits(1)
		for _, au := range r.aus {
			for _, w := range want {
				if equalNALUs(au.nalus, w.NALUs) {
					t.Fatal("garbage camera sent a real access unit")
				}
			}
		}
		t.Logf("%d garbage packets, %d decoded as AUs", len(r.raw), len(r.aus))
	})
	t.Run("NoSPS", func(t *testing.T) {
		r, err := receive(t, s.URL(2), gortsplib.TransportTCP, 30, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := r.desc.Medias[0].Formats[0].(*format.H264)
		if f.SPS != nil || f.PPS != nil {
			t.Fatal("SDP carries parameter sets")
		}
		k := h264Kinds()
		for _, au := range r.aus {
			for _, n := range au.nalus {
				if k.isParam(n) {
					t.Fatal("stream carries parameter sets")
				}
			}
		}
	})
	t.Run("BackwardsTimestamps", func(t *testing.T) {
		r, err := receive(t, s.URL(3), gortsplib.TransportTCP, 60, 0)
		if err != nil {
			t.Fatal(err)
		}
		back := 0
		for i := 1; i < len(r.aus); i++ {
			if d := int32(r.aus[i].ts - r.aus[i-1].ts); d < 0 {
				back++
				if want := int32(frameTicks - durTo90k(BackwardsStep)); d != want {
					t.Fatalf("jump of %d ticks, want %d", d, want)
				}
			}
		}
		if back == 0 {
			t.Fatal("timestamps never went backwards in 2.4 s")
		}
	})
	t.Run("HugeNALU", func(t *testing.T) {
		r, err := receive(t, s.URL(4), gortsplib.TransportTCP, 30, 0)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := checkAgainst(t, r.aus, s.AccessUnits(4))
		found := false
		for _, au := range r.aus {
			for _, nalu := range au.nalus {
				found = found || len(nalu) == 300_000
			}
		}
		if !found || n == 0 {
			t.Fatal("no huge NAL unit received")
		}
	})
	t.Run("HealthyNeighbour", func(t *testing.T) {
		want, _ := Stream(CodecH264, 2_000_000)
		r, err := receive(t, s.URL(5), gortsplib.TransportTCP, 30, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainst(t, r.aus, want)
	})
}

func TestBitrateFactor(t *testing.T) {
	s := startServer(t, Options{Cameras: 2, Bitrate: 1_000_000, Faults: map[int]Fault{2: {BitrateFactor: 3}}})
	size := func(aus []AccessUnit) int64 {
		n := int64(0)
		for _, au := range aus {
			n += int64(au.Size())
		}
		return n * 8 * int64(time.Second) / int64(time.Duration(len(aus))*FrameDuration)
	}
	b1, b2 := size(s.AccessUnits(1)), size(s.AccessUnits(2))
	if b2 < 2_700_000 || b2 > 3_300_000 || b1 > 1_100_000 {
		t.Fatalf("bitrates %d and %d", b1, b2)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{Listen: "127.0.0.1:0", Cameras: 0},
		{Listen: "127.0.0.1:0", Cameras: 1, Codec: "vp8"},
		{Listen: "127.0.0.1:0", Cameras: 1, Bitrate: -5},
		{Listen: "", Cameras: 1},
		{Listen: "127.0.0.1:0", Cameras: 1, Faults: map[int]Fault{2: {NoSPS: true}}},
		{Listen: "127.0.0.1:0", Cameras: 1, UDPRTPAddress: ":8000"},
	} {
		_, err := New(o)
		var oe *OptionError
		var ce *CodecError
		if !errors.As(err, &oe) && !errors.As(err, &ce) {
			t.Fatalf("%+v: got %v", o, err)
		}
	}
}

func TestRunPrintsURLsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listen: "127.0.0.1:0", Cameras: 3, Out: &out})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("Run printed %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Fields(out.String())
	for i, l := range lines {
		if !strings.HasPrefix(l, "rtsp://127.0.0.1:") || !strings.HasSuffix(l, fmt.Sprintf("/cam%d", i+1)) {
			t.Fatalf("line %d: %q", i, l)
		}
	}
	if _, err := receive(t, lines[2], gortsplib.TransportTCP, 5, 0); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// The port is released: the camera no longer answers.
	if _, err := receive(t, lines[0], gortsplib.TransportTCP, 1, 0); err == nil {
		t.Fatal("camera still answers after Run returned")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
