package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"
)

var (
	errStalled    = errors.New("stream stalled")
	errNoVideo    = errors.New("no H.264 or H.265 media in the stream")
	errBadTranspt = errors.New(`transport must be "tcp" or "udp"`)
)

// sessionResult is how one connection ended.
type sessionResult struct {
	err      error
	recorded bool          // at least one frame was stored
	healthy  time.Duration // from the first stored frame to the end
}

// auDecoder is the part of rtph264/rtph265.Decoder we use.
type auDecoder interface {
	Decode(pkt *rtp.Packet) ([][]byte, error)
}

// runSession is one RTSP connection, the mediamtx source.go way:
// Start2 → Describe → Setup → OnPacketRTP → Play → Wait.
func (c *Camera) runSession(ctx context.Context) (res sessionResult) {
	u, err := base.ParseURL(c.o.URL)
	if err != nil {
		return sessionResult{err: fmt.Errorf("camera URL: %w", err)}
	}
	var tr gortsplib.Transport
	switch c.o.Transport {
	case "tcp":
		tr = gortsplib.TransportTCP
	case "udp":
		tr = gortsplib.TransportUDP
	default:
		return sessionResult{err: errBadTranspt}
	}

	client := &gortsplib.Client{
		Scheme:      u.Scheme,
		Host:        u.Host,
		Transport:   &tr,
		ReadTimeout: max(c.o.StallTimeout, 2*time.Second),
		OnDecodeError: func(error) {
			c.st.decodeErrors.Add(1)
		},
		OnPacketsLost: func(n uint64) {
			c.st.packetsLost.Add(n)
		},
	}
	if err := client.Start2(); err != nil {
		return sessionResult{err: err}
	}
	// Close on cancel so a hanging DESCRIBE/SETUP returns at once.
	stopClose := context.AfterFunc(ctx, client.Close)
	defer func() {
		stopClose()
		client.Close()
	}()

	desc, _, err := client.Describe(u)
	if err != nil {
		return sessionResult{err: fmt.Errorf("describe: %w", err)}
	}
	medi, forma := pickVideo(desc)
	if medi == nil {
		return sessionResult{err: errNoVideo}
	}

	var dec auDecoder
	var codec codecKind
	var vps, sps, pps []byte
	switch f := forma.(type) {
	case *format.H264:
		d, err := f.CreateDecoder()
		if err != nil {
			return sessionResult{err: err}
		}
		dec, codec = d, codecH264
		sps, pps = f.SafeParams()
	case *format.H265:
		d, err := f.CreateDecoder()
		if err != nil {
			return sessionResult{err: err}
		}
		dec, codec = d, codecH265
		vps, sps, pps = f.SafeParams()
	}
	c.fmu.Lock()
	c.frag.setCodec(codec)
	c.frag.setParams(vps, sps, pps)
	c.fmu.Unlock()

	if _, err := client.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return sessionResult{err: fmt.Errorf("setup: %w", err)}
	}

	var lastAU atomic.Int64 // Mono() of the last decoded access unit
	var firstStored atomic.Int64
	firstStored.Store(-1)
	lastAU.Store(int64(c.o.Mono()))
	var timer auTimer
	state := ""

	client.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ok := client.PacketPTS2(medi, pkt)
		if !ok {
			return // no timing reference yet
		}
		auPTS := timer.packet(pkt.Timestamp, pts, pkt.Marker)
		au, err := dec.Decode(pkt)
		if err != nil {
			if !isMorePackets(err) {
				c.st.decodeErrors.Add(1)
			}
			return
		}
		mono := c.o.Mono()
		lastAU.Store(int64(mono))
		stored, noParams := c.writeAU(au, auPTS)
		if stored {
			if state != StateRecording {
				state = StateRecording
				c.st.setState(StateRecording)
				if firstStored.CompareAndSwap(-1, int64(mono)) {
					c.event(EventCameraUp, c.o.Now().UTC(), map[string]string{"codec": codec.String()})
				}
			}
		} else if noParams && state != StateError {
			state = StateError // no SPS/PPS: cannot build an init, keep waiting
			c.st.setState(StateError)
		}
	})

	if _, err := client.Play(nil); err != nil {
		return sessionResult{err: fmt.Errorf("play: %w", err)}
	}
	c.st.connected.Store(true)
	c.st.resetRate()
	c.o.Logger.Info("ingest connected", "codec", codec.String(), "transport", c.o.Transport)

	result := func(err error) sessionResult {
		r := sessionResult{err: err}
		if f := firstStored.Load(); f >= 0 {
			r.recorded = true
			r.healthy = c.o.Mono() - time.Duration(f)
		}
		return r
	}

	waitErr := make(chan error, 1)
	go func() { waitErr <- client.Wait() }()
	tick := time.NewTicker(max(c.o.StallTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			client.Close()
			<-waitErr
			return result(ctx.Err())
		case err := <-waitErr:
			return result(err)
		case <-tick.C:
			if c.o.Mono()-time.Duration(lastAU.Load()) > c.o.StallTimeout {
				c.st.setState(StateStalled)
				client.Close()
				<-waitErr
				return result(errStalled)
			}
		}
	}
}

// pickVideo returns the first H.264 or H.265 format; audio and the rest
// are not set up.
func pickVideo(desc *description.Session) (*description.Media, format.Format) {
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			switch f.(type) {
			case *format.H264, *format.H265:
				return m, f
			}
		}
	}
	return nil, nil
}

func isMorePackets(err error) bool {
	return errors.Is(err, rtph264.ErrMorePacketsNeeded) ||
		errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) ||
		errors.Is(err, rtph265.ErrMorePacketsNeeded) ||
		errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious)
}

// auTimer works out which PTS a decoded access unit has. The RTP decoders
// also end an access unit when the timestamp changes (cameras that never
// set the marker bit); the unit returned is then the previous timestamp's.
type auTimer struct {
	filled bool
	ts     uint32
	pts    int64
}

func (a *auTimer) packet(ts uint32, pts int64, marker bool) int64 {
	if a.filled && ts != a.ts {
		out := a.pts
		a.ts, a.pts = ts, pts // the decoder keeps this packet buffered, marker or not
		return out
	}
	a.ts, a.pts = ts, pts
	a.filled = !marker
	return pts
}
