package simcam

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"
)

// rawPlay plays url over TCP and calls onPacket for every RTP packet and
// onError for every decode error gortsplib reports, until one of them
// returns true, the session ends or 15 s pass.
func rawPlay(t *testing.T, url string, onPacket func(*rtp.Packet) bool, onError func(error) bool) error {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		return err
	}
	tr := gortsplib.TransportTCP
	var mu sync.Mutex
	done := make(chan struct{})
	var once sync.Once
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tr,
		OnPacketsLost: func(uint64) {},
		OnDecodeError: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if onError != nil && onError(err) {
				once.Do(func() { close(done) })
			}
		}}
	if err := c.Start2(); err != nil {
		return err
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		return err
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return err
	}
	c.OnPacketRTPAny(func(_ *description.Media, _ format.Format, pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if onPacket(pkt) {
			once.Do(func() { close(done) })
		}
	})
	if _, err := c.Play(nil); err != nil {
		return err
	}
	ended := make(chan error, 1)
	go func() { ended <- c.Wait() }()
	select {
	case <-done:
		return nil
	case err := <-ended:
		return err
	case <-time.After(15 * time.Second):
		return errors.New("timed out")
	}
}

func TestDropPacketEvery(t *testing.T) {
	s := startServer(t, Options{Cameras: 2, Bitrate: 1_000_000, Faults: map[int]Fault{1: {DropPacketEvery: 25}}})
	for cam, wantGaps := range map[int]bool{1: true, 2: false} {
		var last uint16
		n, gaps := 0, 0
		err := rawPlay(t, s.URL(cam), func(p *rtp.Packet) bool {
			if n > 0 && p.SequenceNumber != last+1 {
				gaps++
				if d := p.SequenceNumber - last; d != 2 {
					t.Errorf("cam%d: sequence jumped by %d, want one lost packet", cam, d)
				}
			}
			last = p.SequenceNumber
			n++
			return n == 250
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// 250 packets received span about 260 sent: 10 lost.
		if wantGaps && (gaps < 8 || gaps > 11) || !wantGaps && gaps != 0 {
			t.Fatalf("cam%d: %d gaps in 250 packets", cam, gaps)
		}
	}
}

func TestSSRCChangeEvery(t *testing.T) {
	s := startServer(t, Options{Cameras: 1, Bitrate: 1_000_000, Faults: map[int]Fault{1: {SSRCChangeEvery: 1}}})
	// A plain gortsplib client refuses the new source: that is the fault.
	var wrong int
	var before, after int
	err := rawPlay(t, s.URL(1), func(*rtp.Packet) bool {
		if wrong == 0 {
			before++
		} else {
			after++
		}
		return false
	}, func(err error) bool {
		if strings.Contains(err.Error(), "wrong SSRC") {
			wrong++
		}
		return wrong == 20
	})
	if err != nil || wrong == 0 || before == 0 || after != 0 {
		t.Fatalf("err %v, %d packets refused for their SSRC, %d accepted before, %d after", err, wrong, before, after)
	}
	if s.Restarts(1) == 0 {
		t.Fatal("no source restart counted")
	}
}

func TestSetOffline(t *testing.T) {
	s := startServer(t, Options{Cameras: 2, Bitrate: 500_000})
	playing := make(chan error, 1)
	got := make(chan struct{})
	var once sync.Once
	go func() {
		playing <- rawPlay(t, s.URL(1), func(*rtp.Packet) bool {
			once.Do(func() { close(got) })
			return false
		}, nil)
	}()
	<-got
	s.SetOffline(1, true)
	select {
	case err := <-playing:
		if err == nil {
			t.Fatal("session survived going offline")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("session not closed by SetOffline")
	}
	err := rawPlay(t, s.URL(1), func(*rtp.Packet) bool { return true }, nil)
	var bad liberrors.ErrClientBadStatusCode
	if !errors.As(err, &bad) || bad.Code != base.StatusServiceUnavailable {
		t.Fatalf("offline camera: %v", err)
	}
	if err := rawPlay(t, s.URL(2), func(*rtp.Packet) bool { return true }, nil); err != nil {
		t.Fatalf("neighbour of an offline camera: %v", err)
	}
	s.SetOffline(1, false)
	if err := rawPlay(t, s.URL(1), func(*rtp.Packet) bool { return true }, nil); err != nil {
		t.Fatalf("camera back online: %v", err)
	}
}

func TestHugeNALUEvery(t *testing.T) {
	s := startServer(t, Options{Cameras: 1, Faults: map[int]Fault{1: {HugeNALU: 100_000, HugeNALUEvery: 3}}})
	idr, huge := 0, []int{}
	for _, au := range s.AccessUnits(1) {
		if !au.IDR {
			continue
		}
		for _, n := range au.NALUs {
			if len(n) == 100_000 {
				huge = append(huge, idr)
			}
		}
		idr++
	}
	if want := []int{3, 6, 9}; len(huge) != len(want) || huge[0] != 3 || huge[1] != 6 || huge[2] != 9 {
		t.Fatalf("huge NAL units on IDRs %v of %d, want %v", huge, idr, want)
	}
}
