package simcam

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// maxCameras bounds Options.Cameras; far above what a test or demo needs.
const maxCameras = 4096

// Server is a set of simulated cameras behind one RTSP server.
type Server struct {
	o       Options
	log     *slog.Logger
	cameras []*camera // index i-1 is cam<i>

	rtsp  *gortsplib.Server
	ready atomic.Bool // streams initialised

	mu       sync.Mutex
	addr     net.Addr
	players  map[*gortsplib.ServerSession]player
	started  bool
	closed   bool
	cancel   context.CancelFunc
	pacerEnd chan struct{}
}

// New validates o and prepares the cameras' streams; nothing listens until Start.
func New(o Options) (*Server, error) {
	if o.Codec == "" {
		o.Codec = CodecH264
	}
	if o.Codec != CodecH264 && o.Codec != CodecH265 {
		return nil, &CodecError{Codec: o.Codec}
	}
	if o.Listen == "" {
		return nil, &OptionError{Field: "Listen", Msg: "empty"}
	}
	if o.Cameras < 1 || o.Cameras > maxCameras {
		return nil, &OptionError{Field: "Cameras", Msg: fmt.Sprintf("%d not in 1..%d", o.Cameras, maxCameras)}
	}
	if o.Bitrate < 0 {
		return nil, &OptionError{Field: "Bitrate", Msg: "must not be negative"}
	}
	if (o.UDPRTPAddress == "") != (o.UDPRTCPAddress == "") {
		return nil, &OptionError{Field: "UDPRTPAddress", Msg: "set both UDP addresses or neither"}
	}
	for i := range o.Faults {
		if i < 1 || i > o.Cameras {
			return nil, &OptionError{Field: "Faults", Msg: fmt.Sprintf("camera %d does not exist", i)}
		}
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		o:       o,
		log:     logger.With("component", "simcam"),
		players: make(map[*gortsplib.ServerSession]player),
	}

	// Cameras with the same fault share one packetised variant.
	variants := make(map[Fault]*variant)
	for i := 1; i <= o.Cameras; i++ {
		f := o.Faults[i]
		v, ok := variants[f]
		if !ok {
			var err error
			if v, err = makeVariant(o.Codec, o.Bitrate, f); err != nil {
				return nil, err
			}
			variants[f] = v
		}
		c := &camera{
			index:  i,
			v:      v,
			fault:  f,
			pos:    startPos(i, len(v.packets)),
			seq:    uint16(rand.Uint32()),
			tsBase: rand.Uint32(),
		}
		c.rng = rand.New(rand.NewPCG(uint64(i), 0x5eed))
		if f.GarbageRTP {
			c.garbage = make([]byte, 1400)
		}
		c.media = &description.Media{
			Type:    description.MediaTypeVideo,
			Formats: []format.Format{sdpFormat(o.Codec, v.params)},
		}
		s.cameras = append(s.cameras, c)
	}
	return s, nil
}

// Start listens and starts sending; the cameras run until Close.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return &OptionError{Field: "Server", Msg: "already started or closed"}
	}
	s.rtsp = &gortsplib.Server{
		Handler:        &handler{s: s},
		RTSPAddress:    s.o.Listen,
		UDPRTPAddress:  s.o.UDPRTPAddress,
		UDPRTCPAddress: s.o.UDPRTCPAddress,
		// A large IDR plus filler is sent in one burst per tick.
		WriteQueueSize: s.writeQueue(),
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err != nil {
				return nil, err
			}
			s.addr = l.Addr() // called from Start, under s.mu
			return sourceListener{l}, nil
		},
	}
	if err := s.rtsp.Start(); err != nil {
		return fmt.Errorf("simcam: %w", err)
	}
	for _, c := range s.cameras {
		st := &gortsplib.ServerStream{
			Server: s.rtsp,
			Desc:   &description.Session{Medias: []*description.Media{c.media}},
		}
		if err := st.Initialize(); err != nil {
			s.rtsp.Close()
			s.closeStreams()
			return fmt.Errorf("simcam: camera %d: %w", c.index, err)
		}
		c.stream = st
	}
	// Handlers run as soon as the listener is up; they answer 503 until now.
	s.ready.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.pacerEnd = make(chan struct{})
	s.started = true
	go func() {
		defer close(s.pacerEnd)
		s.pace(ctx)
	}()
	s.log.Info("simulated cameras started", "addr", s.addr.String(), "cameras", len(s.cameras),
		"codec", s.o.Codec, "bitrate", s.o.Bitrate)
	return nil
}

// writeQueue is the per-session packet queue: room for the largest access
// unit's packets twice over (a HugeNALU fault can need thousands), at
// least 4096, a power of two as gortsplib requires.
func (s *Server) writeQueue() int {
	most := 0
	for _, c := range s.cameras {
		for _, p := range c.v.packets {
			most = max(most, len(p.payloads))
		}
	}
	q := 4096
	for q < 2*most {
		q *= 2
	}
	return q
}

// Close stops sending, disconnects every client and releases the ports.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return
	}
	s.cancel()
	<-s.pacerEnd
	s.rtsp.Close()
	s.closeStreams()
}

func (s *Server) closeStreams() {
	for _, c := range s.cameras {
		if c.stream != nil {
			c.stream.Close()
		}
	}
}

// Addr is the TCP address the server listens on (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL returns rtsp://HOST:PORT/cam<i> for camera i (from 1), without
// credentials. An unspecified listen host is reported as 127.0.0.1.
func (s *Server) URL(i int) string {
	host := s.o.Listen
	if a := s.Addr(); a != nil {
		host = a.String()
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			host = net.JoinHostPort("127.0.0.1", p)
		}
	}
	return "rtsp://" + host + "/cam" + strconv.Itoa(i)
}

// AccessUnits returns the loop camera i (from 1) sends, faults included
// (for GarbageRTP, what it would have sent). Callers must not modify it.
func (s *Server) AccessUnits(i int) []AccessUnit {
	if i < 1 || i > len(s.cameras) {
		return nil
	}
	return s.cameras[i-1].v.aus
}

// startPos is where camera i (from 1) starts in a clip of n access units.
func startPos(i, n int) int { return ((i - 1) * startStride) % n }

// Run starts the cameras, prints their URLs to o.Out and blocks until ctx is done.
func Run(ctx context.Context, o Options) error {
	s, err := New(o)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	defer s.Close()
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	for i := 1; i <= len(s.cameras); i++ {
		if _, err := io.WriteString(out, s.URL(i)+"\n"); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// pace sends one access unit per camera per frame interval from one
// goroutine, so many cameras cost one timer.
func (s *Server) pace(ctx context.Context) {
	start := time.Now()
	t := time.NewTicker(FrameDuration)
	defer t.Stop()
	next := int64(0) // next frame number to send
	for {
		due := int64(time.Since(start)/FrameDuration) + 1
		if due-next > 2*25 {
			// More than 2 s behind (machine overloaded or suspended):
			// drop frames rather than burst them.
			s.log.Warn("simcam pacer behind, skipping frames", "frames", due-next)
			next = due - 1
		}
		for ; next < due; next++ {
			ntp := start.Add(time.Duration(next) * FrameDuration)
			for _, c := range s.cameras {
				c.send(ntp)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handler answers RTSP requests; gortsplib calls it from connection goroutines.
type handler struct{ s *Server }

func (h *handler) camera(path string) *camera {
	name := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
	n, ok := strings.CutPrefix(name, "cam")
	if !ok {
		return nil
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 1 || i > len(h.s.cameras) || strconv.Itoa(i) != n {
		return nil
	}
	return h.s.cameras[i-1]
}

func (h *handler) authorize(conn *gortsplib.ServerConn, req *base.Request) (*base.Response, error) {
	if h.s.o.User == "" || conn.VerifyCredentials(req, h.s.o.User, h.s.o.Pass) {
		return nil, nil
	}
	return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
}

func (h *handler) lookup(conn *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, *camera, error) {
	if res, err := h.authorize(conn, req); res != nil {
		return res, nil, err
	}
	if !h.s.ready.Load() {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	c := h.camera(path)
	if c == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	if c.offline.Load() {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, c, nil
}

// player is one session playing a camera.
type player struct {
	cam  *camera
	conn *gortsplib.ServerConn
}

// SetOffline takes camera i (from 1) off the air or back: while offline
// its sessions are closed and every request for it is answered 503, as a
// rebooting camera's RTSP server does. Other cameras are not affected.
func (s *Server) SetOffline(i int, off bool) {
	if i < 1 || i > len(s.cameras) {
		return
	}
	c := s.cameras[i-1]
	c.offline.Store(off)
	if !off {
		return
	}
	s.mu.Lock()
	var drop []player
	for ss, p := range s.players {
		if p.cam == c {
			drop = append(drop, p)
			delete(s.players, ss)
			c.players.Add(-1)
			defer ss.Close()
		}
	}
	s.mu.Unlock()
	for _, p := range drop {
		p.conn.Close()
	}
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	res, c, err := h.lookup(ctx.Conn, ctx.Request, ctx.Path)
	if c == nil {
		return res, nil, err
	}
	return res, c.stream, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	res, c, err := h.lookup(ctx.Conn, ctx.Request, ctx.Path)
	if c == nil {
		return res, nil, err
	}
	return res, c.stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	c := h.camera(ctx.Path)
	if c == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil
	}
	if c.offline.Load() {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil
	}
	if sc, ok := ctx.Conn.NetConn().(*sourceConn); ok && c.fault.SSRCChangeEvery > 0 {
		sc.cam.Store(c)
	}
	h.s.mu.Lock()
	if _, ok := h.s.players[ctx.Session]; !ok {
		h.s.players[ctx.Session] = player{cam: c, conn: ctx.Conn}
		c.players.Add(1)
	}
	h.s.mu.Unlock()
	h.s.log.Debug("play", "camera", c.index, "remote", ctx.Conn.NetConn().RemoteAddr().String())
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnPause implements gortsplib.ServerHandlerOnPause.
func (h *handler) OnPause(ctx *gortsplib.ServerHandlerOnPauseCtx) (*base.Response, error) {
	h.dropPlayer(ctx.Session)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose.
func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.dropPlayer(ctx.Session)
}

func (h *handler) dropPlayer(ss *gortsplib.ServerSession) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if p, ok := h.s.players[ss]; ok {
		delete(h.s.players, ss)
		p.cam.players.Add(-1)
	}
}

// OnStreamWriteError implements gortsplib.ServerHandlerOnStreamWriteError;
// without it gortsplib logs every dropped packet with the standard logger.
func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.s.log.Debug("stream write error", "error", ctx.Error)
}

// OnConnClose implements gortsplib.ServerHandlerOnConnClose.
func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.s.log.Debug("connection closed", "remote", ctx.Conn.NetConn().RemoteAddr().String(), "error", ctx.Error)
}
