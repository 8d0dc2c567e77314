package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
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
	errBadURL     = errors.New("camera URL")
	// errSourceChanged ends a UDP or RTSPS session whose camera restarted
	// its RTP source: gortsplib refuses the new SSRC there (ssrc.go).
	errSourceChanged = errors.New("camera restarted its RTP source (new SSRC)")
)

// dialTimeout bounds a TCP connect: an unreachable camera (not refusing)
// delays the next attempt by at most this.
const dialTimeout = 2 * time.Second

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
		return sessionResult{err: fmt.Errorf("%w: %w", errBadURL, err)}
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

	// Over plain TCP the connection itself follows RTP source restarts;
	// elsewhere gortsplib reports them as decode errors and the session
	// ends at once to reconnect (ssrc.go).
	follow := tr == gortsplib.TransportTCP && u.Scheme == "rtsp"
	changes := &sourceChanges{}
	sourceLost := make(chan struct{}, 1)
	dialer := &net.Dialer{Timeout: dialTimeout}
	// The library's own timeout only backs ours up: a little longer than
	// the stall window, so the stall is judged here (stall.go).
	libTimeout := max(c.stall.window()*3/2, 2*time.Second)
	client := &gortsplib.Client{
		Scheme:                u.Scheme,
		Host:                  u.Host,
		Transport:             &tr,
		ReadTimeout:           libTimeout,
		InitialUDPReadTimeout: libTimeout,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, address)
			if err != nil || !follow {
				return conn, err
			}
			return newSourceConn(conn, changes), nil
		},
		OnDecodeError: func(err error) {
			c.st.decodeErrors.Add(1)
			if strings.Contains(err.Error(), "wrong SSRC") {
				select {
				case sourceLost <- struct{}{}:
				default:
				}
			}
		},
		// Loss is counted from the sequence numbers the packet handler
		// sees (after gortsplib's reordering), where it can act on it.
		OnPacketsLost: func(uint64) {},
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

	var newDecoder func() (auDecoder, error)
	var codec codecKind
	var vps, sps, pps []byte
	switch f := forma.(type) {
	case *format.H264:
		newDecoder = func() (auDecoder, error) { return f.CreateDecoder() }
		codec = codecH264
		sps, pps = f.SafeParams()
	case *format.H265:
		newDecoder = func() (auDecoder, error) { return f.CreateDecoder() }
		codec = codecH265
		vps, sps, pps = f.SafeParams()
	}
	dec, err := newDecoder()
	if err != nil {
		return sessionResult{err: err}
	}
	c.fmu.Lock()
	c.frag.setCodec(codec)
	c.frag.setParams(vps, sps, pps)
	c.fmu.Unlock()

	if _, err := client.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return sessionResult{err: fmt.Errorf("setup: %w", err)}
	}

	var lastAU atomic.Int64 // Mono() of the last decoded access unit
	var frames atomic.Int64 // access units decoded on this connection
	var firstStored atomic.Int64
	firstStored.Store(-1)
	lastAU.Store(int64(c.o.Mono()))
	var invalid atomic.Bool // the stream is shown as invalid (checkStream)
	rcv := &receiver{c: c, newDecoder: newDecoder, dec: dec, changes: changes}
	shown := false // StateRecording shown for this session

	client.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ptsOK := client.PacketPTS2(medi, pkt)
		au, auPTS := rcv.packet(pkt, pts, ptsOK)
		if au == nil {
			return
		}
		mono := c.o.Mono()
		if frames.Add(1) > 1 {
			c.stall.frameGap(mono - time.Duration(lastAU.Load()))
		}
		lastAU.Store(int64(mono))
		if !c.writeAU(au, auPTS) {
			return
		}
		if firstStored.CompareAndSwap(-1, int64(mono)) {
			c.event(EventCameraUp, c.o.Now().UTC(), map[string]string{"codec": codec.String()})
		}
		if !shown && !invalid.Load() {
			shown = true
			c.st.setState(StateRecording)
		}
	})

	if _, err := client.Play(nil); err != nil {
		return sessionResult{err: fmt.Errorf("play: %w", err)}
	}
	c.st.connected.Store(true)
	c.st.resetRate()
	lvl := slog.LevelInfo
	if c.quietConnect {
		lvl = slog.LevelDebug
	} else {
		c.connectLogged = true
	}
	c.o.Logger.Log(ctx, lvl, "ingest connected", "codec", codec.String(), "transport", c.o.Transport)

	var since time.Duration // when the stream turned invalid
	endInvalid := func(why string) {
		if invalid.CompareAndSwap(true, false) {
			c.event(EventStreamInvalidEnd, c.o.Now().UTC(), map[string]string{
				"lasted": (c.o.Mono() - since).Round(time.Millisecond).String(), "why": why})
		}
	}
	result := func(err error) sessionResult {
		endInvalid("connection ended")
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
		case <-sourceLost:
			client.Close()
			<-waitErr
			c.sourceLost()
			return result(errSourceChanged)
		case <-tick.C:
			mono := c.o.Mono()
			if mono-time.Duration(lastAU.Load()) > c.stall.window() {
				if frames.Load() < 2 {
					c.stall.stalledUnknown()
				}
				c.st.setState(StateStalled)
				client.Close()
				<-waitErr
				return result(errStalled)
			}
			frames, faults := c.st.recent(mono)
			switch {
			case !invalid.Load() && faults > 0 && frames < faults:
				// More lost to faults than recorded: nothing a person
				// would call recording.
				invalid.Store(true)
				since = mono
				c.st.setState(StateStreamInvalid)
				cs := c.Stats()
				c.event(EventStreamInvalid, c.o.Now().UTC(), map[string]string{
					"reason": cs.LastError, "invalid_payloads": strconv.FormatUint(cs.InvalidPayloads, 10),
					"oversize_units": strconv.FormatUint(cs.OversizeUnits, 10),
					"missing_params": strconv.FormatUint(cs.MissingParams, 10)})
			case invalid.Load() && frames > 0 && frames >= 2*faults:
				endInvalid("recording again")
				c.st.setState(StateRecording)
			}
		}
	}
}

// receiver turns one connection's RTP packets into access units: it
// tracks sequence numbers, follows RTP source changes, and on a loss or a
// payload that does not decode starts a fresh decoder, so no access unit
// is ever assembled across a fault. It runs on gortsplib's reader goroutine.
type receiver struct {
	c          *Camera
	newDecoder func() (auDecoder, error)
	dec        auDecoder
	timer      auTimer
	changes    *sourceChanges

	haveSeq  bool
	nextSeq  uint16
	skipping bool   // dropping the rest of a broken access unit
	skipTS   uint32 // its RTP timestamp
}

// reset forgets any partly assembled access unit.
func (r *receiver) reset() {
	if d, err := r.newDecoder(); err == nil {
		r.dec = d
	}
	r.timer = auTimer{}
}

// packet takes one RTP packet and returns a complete access unit with its
// PTS, or nil.
func (r *receiver) packet(pkt *rtp.Packet, pts int64, ptsOK bool) ([][]byte, int64) {
	c := r.c
	seq := pkt.SequenceNumber
	if ch, ok := r.changes.at(seq); ok && r.haveSeq {
		r.reset()
		r.skipping = false
		c.fmu.Lock()
		c.frag.sourceChanged(map[string]string{"from": fmt.Sprintf("%08x", ch.from),
			"to": fmt.Sprintf("%08x", ch.to), "followed": "same connection"})
		c.fmu.Unlock()
	}
	if r.haveSeq && seq != r.nextSeq {
		lost := uint64(seq - r.nextSeq)
		if lost >= 0x8000 {
			lost = 1 // went back: a restart or a duplicate, not a count
		}
		r.reset()
		c.fmu.Lock()
		c.frag.packetLoss(lost)
		c.fmu.Unlock()
	}
	r.haveSeq, r.nextSeq = true, seq+1
	if r.skipping {
		if pkt.Timestamp == r.skipTS {
			return nil, 0
		}
		r.skipping = false
	}
	if !ptsOK {
		return nil, 0 // no timing reference yet
	}
	auPTS := r.timer.packet(pkt.Timestamp, pts, pkt.Marker)
	au, err := r.dec.Decode(pkt)
	if err == nil {
		return au, auPTS
	}
	if isMorePackets(err) {
		return nil, 0
	}
	r.reset()
	r.skipping, r.skipTS = true, pkt.Timestamp
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if msg := err.Error(); strings.Contains(msg, "too big") || strings.Contains(msg, "exceeds maximum") {
		c.frag.oversize(fmt.Errorf("RTP: %w", err), nil)
	} else {
		c.frag.invalidPayload(fmt.Errorf("RTP payload: %w", err))
	}
	return nil, 0
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
