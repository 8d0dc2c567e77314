package ingest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// fakeCam is an in-process RTSP camera on 127.0.0.1 that loops a known
// access-unit sequence at (a multiple of) real time and logs what it sent.
type fakeCam struct {
	tb     testing.TB
	addr   string
	user   string
	pass   string
	codec  codecKind
	aus    []clipAU
	speed  float64
	jumpAt int   // after this many AUs sent, shift RTP timestamps by jump
	jump   int64 // ticks
	udpRTP int   // when set, also serve RTP over UDP on this (even) port and the next

	srv    *gortsplib.Server
	smu    sync.Mutex // stream is set after the server starts
	stream *gortsplib.ServerStream
	medi   *description.Media
	paused atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	sent []sentAU
}

type sentAU struct {
	nalus [][]byte
	dts   int64 // container DTS plus loop offset
	key   bool
}

// freeUDPPair finds an even UDP port whose successor is free too.
func freeUDPPair(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port &^ 1
		a.Close()
		x, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		y, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if x != nil {
			x.Close()
		}
		if y != nil {
			y.Close()
		}
		if err1 == nil && err2 == nil {
			return p
		}
	}
	tb.Fatal("no free UDP port pair")
	return 0
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// withAUD prepends an access unit delimiter to every H.264 AU (the TS
// reader strips them), so the tests also cover AUD passing through RTP.
func withAUD(aus []clipAU) []clipAU {
	out := make([]clipAU, len(aus))
	for i, a := range aus {
		a.nalus = append([][]byte{{byte(h264.NALUTypeAccessUnitDelimiter), 0xf0}}, a.nalus...)
		out[i] = a
	}
	return out
}

func (c *fakeCam) params() (vps, sps, pps []byte) {
	for _, n := range c.aus[0].nalus {
		if c.codec == codecH265 {
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				vps = n
			case h265.NALUType_SPS_NUT:
				sps = n
			case h265.NALUType_PPS_NUT:
				pps = n
			}
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	return
}

func (c *fakeCam) start() {
	c.tb.Helper()
	if c.speed == 0 {
		c.speed = 1
	}
	c.srv = &gortsplib.Server{Handler: c, RTSPAddress: c.addr}
	if c.udpRTP != 0 {
		c.srv.UDPRTPAddress = fmt.Sprintf("127.0.0.1:%d", c.udpRTP)
		c.srv.UDPRTCPAddress = fmt.Sprintf("127.0.0.1:%d", c.udpRTP+1)
	}
	if err := c.srv.Start(); err != nil {
		c.tb.Fatal(err)
	}
	vps, sps, pps := c.params()
	var forma format.Format
	var encode func([][]byte) ([]*rtp.Packet, error)
	if c.codec == codecH265 {
		f := &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}
		enc, err := f.CreateEncoder()
		if err != nil {
			c.tb.Fatal(err)
		}
		forma, encode = f, enc.Encode
	} else {
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
		enc, err := f.CreateEncoder()
		if err != nil {
			c.tb.Fatal(err)
		}
		forma, encode = f, enc.Encode
	}
	c.medi = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	stream := &gortsplib.ServerStream{Server: c.srv, Desc: &description.Session{Medias: []*description.Media{c.medi}}}
	if err := stream.Initialize(); err != nil {
		c.tb.Fatal(err)
	}
	c.smu.Lock()
	c.stream = stream
	c.smu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.done = make(chan struct{})
	go c.run(ctx, encode)
}

func (c *fakeCam) run(ctx context.Context, encode func([][]byte) ([]*rtp.Packet, error)) {
	defer close(c.done)
	loopDur := c.aus[len(c.aus)-1].dts - c.aus[0].dts + 3600
	tick := time.NewTicker(time.Duration(float64(40*time.Millisecond) / c.speed))
	defer tick.Stop()
	const tsBase = 0x7fff0000 // wraps the 32-bit RTP clock soon
	n := 0
	for loop := int64(0); ; loop++ {
		for _, a := range c.aus {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if c.paused.Load() {
				continue
			}
			pkts, err := encode(a.nalus)
			if err != nil {
				c.tb.Error(err)
				return
			}
			off := loop * loopDur
			if c.jumpAt > 0 && n >= c.jumpAt {
				off += c.jump
			}
			for _, p := range pkts {
				p.Timestamp = uint32(tsBase + a.pts + off)
				_ = c.getStream().WritePacketRTP(c.medi, p)
			}
			c.mu.Lock()
			c.sent = append(c.sent, sentAU{nalus: a.nalus, dts: a.dts + loop*loopDur, key: a.key})
			c.mu.Unlock()
			n++
		}
	}
}

func (c *fakeCam) close() {
	c.cancel()
	<-c.done
	c.getStream().Close()
	c.srv.Close()
}

func (c *fakeCam) getStream() *gortsplib.ServerStream {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.stream
}

func (c *fakeCam) streamResponse() (*base.Response, *gortsplib.ServerStream, error) {
	st := c.getStream()
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

func (c *fakeCam) sentLog() []sentAU {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentAU(nil), c.sent...)
}

func (c *fakeCam) auth(conn *gortsplib.ServerConn, req *base.Request) (*base.Response, error) {
	if c.user == "" || conn.VerifyCredentials(req, c.user, c.pass) {
		return nil, nil
	}
	return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
}

func (c *fakeCam) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := c.auth(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	return c.streamResponse()
}

func (c *fakeCam) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := c.auth(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	return c.streamResponse()
}

func (c *fakeCam) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// matchSent checks that the stored samples are, byte for byte, a
// contiguous run of the sent AUs starting at an IDR, and returns the index
// of the first one in the sent log.
func matchSent(tb testing.TB, samples []parsedSample, sent []sentAU) int {
	tb.Helper()
	if len(samples) == 0 {
		tb.Fatal("no samples stored")
	}
	for k := range sent {
		if !sent[k].key || k+len(samples) > len(sent) || !sameNALUs(sent[k].nalus, samples[0].nalus) {
			continue
		}
		ok := true
		for i := range samples {
			if !sameNALUs(sent[k+i].nalus, samples[i].nalus) {
				ok = false
				break
			}
		}
		if ok {
			return k
		}
	}
	tb.Fatalf("the %d stored samples are not a contiguous run of the %d sent AUs from an IDR", len(samples), len(sent))
	return -1
}
