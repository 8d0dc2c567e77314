// Package playback serves recorded and live footage as fragmented MP4 over
// HTTP, reachable only through an SSH session's forwarded channel.
//
// The HTTP server has no TCP listener of its own: sshd hands it each
// accepted direct-tcpip channel (ServeConn) together with the SSH
// connection that opened it, so the handler knows for certain which
// session a request came through. The address users forward to
// (ssh -L N:127.0.0.1:PORT) is therefore virtual: with a fixed port (the
// appliance's default, so users can forward it when they log in) nothing
// is bound at all; with port 0 a free loopback port is reserved to pick a
// unique number, and anything connecting to it directly is refused.
//
// Access is by token: 256 random bits minted for one person, one SSH
// session and one camera (a recorded range, or live), dying when the
// session ends or after a maximum lifetime. Every viewing is ledgered when
// its token ends, with the bytes that reached the person.
package playback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"mimamori/core"
	"mimamori/ratelog"
	"mimamori/recorder"
	"mimamori/recorder/clip"
)

// Core is what playback needs from core/: the permission check (ledgered)
// before a token exists, and the ledger entry when a viewing ends.
// *core.Store implements it.
type Core interface {
	AuthorizeView(actor core.Actor, v core.ViewInput) error
	RecordViewing(actor core.Actor, v core.ViewRecord) error
}

// keyLookup is the part of *core.Store that says when a key expires; a
// Core that has it ends every link with its key.
type keyLookup interface {
	LookupKey(fingerprint string) (core.Key, error)
}

// Options configure a Server. Footage and Core are required.
type Options struct {
	Footage clip.Source      // the ring
	Live    *recorder.Live   // nil: live view is unavailable
	Core    Core             // authorizes and ledgers
	MaxTTL  time.Duration    // longest a token lives; default DefaultMaxTTL
	Listen  string           // loopback address users forward to; port 0 reserves a free one (default "127.0.0.1:0")
	Now     func() time.Time // clock; default time.Now
	Logger  *slog.Logger
}

// DefaultMaxTTL bounds a token's life even if its session stays open.
const DefaultMaxTTL = 4 * time.Hour

// Typed errors.
var (
	ErrClosed  = errors.New("playback: server closed")
	ErrNoLive  = core.ErrNoLive
	ErrInvalid = errors.New("playback: invalid request")
)

// Server is the playback HTTP server.
type Server struct {
	o       Options
	log     *slog.Logger
	rlog    *ratelog.Logger // refusals a client repeats at will: first line, then a count per minute
	reserve net.Listener    // with Listen port 0: holds the picked port; direct connections are refused
	port    int
	ln      *connListener
	http    *http.Server

	mu      sync.Mutex
	tickets map[[32]byte]*ticket
	closed  bool
	wg      sync.WaitGroup // serve goroutines and viewings being ledgered
}

// New reserves the loopback port and starts serving (forwarded channels
// arrive through ServeConn). Call Close to stop.
func New(o Options) (*Server, error) {
	if o.Footage == nil || o.Core == nil {
		return nil, fmt.Errorf("%w: Footage and Core are required", ErrInvalid)
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, portS, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen %q: %v", ErrInvalid, o.Listen, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: listen %q is not a loopback address", ErrInvalid, o.Listen)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: listen %q: bad port", ErrInvalid, o.Listen)
	}
	var rl net.Listener
	addr := net.Addr(&net.TCPAddr{IP: ip, Port: port})
	if port == 0 {
		if rl, err = net.Listen("tcp", o.Listen); err != nil {
			return nil, fmt.Errorf("playback: reserve port: %w", err)
		}
		addr = rl.Addr()
		port = addr.(*net.TCPAddr).Port
	}
	s := &Server{
		o:       o,
		log:     o.Logger.With("component", "playback"),
		reserve: rl,
		rlog:    ratelog.New(o.Logger.With("component", "playback"), time.Minute),
		port:    port,
		ln:      newConnListener(addr),
		tickets: map[[32]byte]*ticket{},
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if oc, ok := c.(*originConn); ok {
				return context.WithValue(ctx, originKey{}, oc.origin)
			}
			return ctx
		},
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if rl != nil {
			s.refuseDirect()
		}
	}()
	return s, nil
}

// Host is the address users forward to: "127.0.0.1".
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the loopback port users forward to.
func (s *Server) Port() int { return s.port }

// Addr is Host:Port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host(), strconv.Itoa(s.port)) }

// Accepts reports whether a forward to host:port is one for this server
// (the only forward sshd allows).
func (s *Server) Accepts(host string, port uint32) bool {
	if port != uint32(s.port) {
		return false
	}
	switch host {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// LiveAvailable reports whether live view can be served at all.
func (s *Server) LiveAvailable() bool { return s.o.Live != nil }

// ServeConn serves HTTP on c, a forwarded channel of the SSH connection
// identified by origin (its session hash). It returns at once; the HTTP
// server closes c when done.
func (s *Server) ServeConn(c net.Conn, origin string) error {
	if origin == "" {
		_ = c.Close()
		return fmt.Errorf("%w: empty origin", ErrInvalid)
	}
	if err := s.ln.push(&originConn{Conn: c, origin: origin}); err != nil {
		_ = c.Close()
		return ErrClosed
	}
	return nil
}

// Close ends every token (ledgering the viewings), stops serving and
// releases the port. Open streams are cut.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var all []*ticket
	for _, t := range s.tickets {
		all = append(all, t)
	}
	s.mu.Unlock()
	for _, t := range all {
		s.revoke(t, "shutdown")
	}
	if s.reserve != nil {
		_ = s.reserve.Close()
	}
	_ = s.ln.Close()
	defer s.rlog.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx) // streams see their tokens end and return
	if err != nil {
		_ = s.http.Close()
	}
	s.wg.Wait()
	return nil
}

// refuseDirect accepts and closes connections to the reserved port: footage
// leaves only through an SSH forward.
func (s *Server) refuseDirect() {
	for {
		c, err := s.reserve.Accept()
		if err != nil {
			return
		}
		s.rlog.Warn("refused direct connection to the playback port", "remote", c.RemoteAddr().String())
		_ = c.Close()
	}
}

type originKey struct{}

// originConn is a forwarded channel and the SSH connection it came from.
type originConn struct {
	net.Conn
	origin string
}

// connListener is a net.Listener fed by ServeConn.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closer sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) error {
	select {
	case l.conns <- c:
		return nil
	case <-l.done:
		return net.ErrClosed
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
