// Package sshd serves the mimamori console over SSH: public-key login only,
// the key's enrolled role decides everything, each session gets either the
// console TUI (pty, no command) or a script command, and every login and
// logout is a ledger entry.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	"github.com/charmbracelet/wish/recover"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/keys"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or Close; callers treat it as a clean stop.
var ErrServerClosed = ssh.ErrServerClosed

// ErrConfig is wrapped by New for unusable Options.
var ErrConfig = errors.New("sshd: bad options")

// Defaults for zero Options fields.
const (
	DefaultIdleTimeout     = 15 * time.Minute
	DefaultLoginGrace      = 30 * time.Second
	DefaultMaxSessions     = 32
	DefaultMaxAuthTries    = 6
	DefaultRecheckInterval = time.Minute
	DefaultLang            = "ja"
)

// The default per-address rate is 30 new connections per 10 s from one IP: enough for
// a script running a request end to end, too few for a key scanner.
const defaultPerAddrN, defaultPerAddrPer = 30, 10 * time.Second

// Options configure a Server. Only Core and DataDir are required.
type Options struct {
	Listen      string // e.g. ":2222"; used by ListenAndServe
	DataDir     string // the host key lives here (keys.LoadOrCreateHostKey)
	Core        *core.Store
	IdleTimeout time.Duration // no traffic for this long closes the connection
	// LoginGrace closes connections that have not authenticated by then.
	LoginGrace   time.Duration
	MaxSessions  int  // open sessions (all keys together); more are refused
	MaxConns     int  // open TCP connections incl. unauthenticated; default 2*MaxSessions
	MaxAuthTries int  // per connection
	PerAddrRate  Rate // new connections per remote IP; N < 0 disables
	// RecheckInterval re-checks open sessions' keys against core even when
	// no change notification arrived (a safety net behind Subscribe).
	RecheckInterval time.Duration
	Logger          *slog.Logger
	Lang            string         // "ja" or "en": default language of commands
	Location        *time.Location // human-readable times; default Asia/Tokyo
	NewProgram      ProgramFactory // the TUI; nil: interactive sessions are refused
	// Commands are added to (or replace, by name) the built-in commands.
	Commands []Command
	// ServerOptions are applied last to the underlying ssh.Server (e.g. a
	// LocalPortForwardingCallback for view links).
	ServerOptions []ssh.Option
	Now           func() time.Time // clock; default time.Now
	ExportDir     string           // export_dir: request export writes packages here
}

// Server is the SSH console.
type Server struct {
	o        Options
	log      *slog.Logger
	srv      *ssh.Server
	hostFP   string
	cmds     *Commands
	resolver keys.Resolver

	limiter *addrLimiter
	conns   connCounter
	reg     *registry
	seq     atomic.Uint64 // numbers sessions so login/logout pairs match

	ctx    context.Context // ends with Shutdown/Close; stops the watcher
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	ln      net.Listener
	closing bool
}

// New validates o, loads (or on first start creates) the ed25519 host key
// under o.DataDir and builds the server. The watcher that ends revoked
// keys' sessions starts here; call Shutdown or Close to stop it.
func New(o Options) (*Server, error) {
	if o.Core == nil {
		return nil, fmt.Errorf("%w: Core is nil", ErrConfig)
	}
	if o.DataDir == "" {
		return nil, fmt.Errorf("%w: DataDir is empty", ErrConfig)
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.LoginGrace <= 0 {
		o.LoginGrace = DefaultLoginGrace
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 2 * o.MaxSessions
	}
	if o.MaxAuthTries <= 0 {
		o.MaxAuthTries = DefaultMaxAuthTries
	}
	if o.PerAddrRate == (Rate{}) {
		o.PerAddrRate = Rate{N: defaultPerAddrN, Per: defaultPerAddrPer}
	}
	if o.RecheckInterval <= 0 {
		o.RecheckInterval = DefaultRecheckInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	lang, err := parseLang(o.Lang, DefaultLang)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	o.Lang = lang
	if o.Location == nil {
		o.Location = defaultLocation()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cmds, err := NewCommands(append(BuiltinCommands(), o.Commands...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}

	signer, fp, created, err := keys.LoadOrCreateHostKey(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("sshd: host key: %w", err)
	}
	log := o.Logger.With("component", "sshd")
	if created {
		log.Info("created host key", "fingerprint", fp)
	}

	s := &Server{
		o:        o,
		log:      log,
		hostFP:   fp,
		cmds:     cmds,
		resolver: keys.Resolver{Keys: o.Core},
		limiter:  newAddrLimiter(o.PerAddrRate, o.Now),
		reg:      newRegistry(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	opts := []ssh.Option{
		// Our own host key first, so wish never generates one in the cwd.
		func(srv *ssh.Server) error { srv.AddHostKey(signer); return nil },
		wish.WithAddress(o.Listen),
		wish.WithPublicKeyAuth(s.publicKeyHandler),
		wish.WithIdleTimeout(o.IdleTimeout),
		func(srv *ssh.Server) error {
			srv.ConnCallback = s.connCallback
			srv.ServerConfigCallback = func(ssh.Context) *gossh.ServerConfig {
				return &gossh.ServerConfig{MaxAuthTries: o.MaxAuthTries}
			}
			srv.ConnectionFailedCallback = func(c net.Conn, err error) {
				log.Debug("handshake failed", "remote", c.RemoteAddr().String(), "err", err)
			}
			return nil
		},
		// Innermost first; the last listed runs first (wish options.go).
		wish.WithMiddleware(
			recover.MiddlewareWithLogger(slogPrintf{log},
				s.sessionMiddleware,
				s.authMiddleware,
				s.loggingMiddleware,
				s.commandLineMiddleware,
			),
		),
	}
	opts = append(opts, o.ServerOptions...)
	srv, err := wish.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("sshd: %w", err)
	}
	if srv.PasswordHandler != nil || srv.KeyboardInteractiveHandler != nil {
		return nil, fmt.Errorf("%w: only public-key authentication is allowed", ErrConfig)
	}
	s.srv = srv

	s.wg.Add(1)
	go s.watchKeys()
	return s, nil
}

// HostKeyFingerprint is the SHA256 fingerprint of the host key, for the
// operator to compare on first connection.
func (s *Server) HostKeyFingerprint() string { return s.hostFP }

// ListenAndServe listens on Options.Listen and serves until Shutdown/Close.
func (s *Server) ListenAndServe() error {
	addr := s.o.Listen
	if addr == "" {
		addr = ":22"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sshd: %w", err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on l until Shutdown/Close; it then returns
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	s.ln = l
	s.mu.Unlock()
	return s.srv.Serve(l)
}

// Addr is the listening address, nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Sessions is the number of open sessions.
func (s *Server) Sessions() int { return s.reg.count() }

// Shutdown stops accepting connections, tells every open TUI to quit and
// waits for the sessions to end (commands are left to finish) or for ctx.
// Connections still open after that are closed. It returns ctx.Err() if
// sessions had to be cut off.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()

	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(ctx) }() // closes the listeners now
	for _, l := range s.reg.sessions("") {
		l.quit("shutdown")
	}
	var err error
	select {
	case <-s.reg.emptyCh():
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Connections without a session (or a client that does not hang up
	// after its session ended) must not hold the shutdown.
	_ = s.srv.Close()
	<-done
	s.stopWatcher()
	return err
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	err := s.srv.Close()
	s.stopWatcher()
	return err
}

func (s *Server) stopWatcher() {
	s.cancel()
	s.wg.Wait()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// connCallback runs before the SSH handshake: refuse early, cheaply.
func (s *Server) connCallback(ctx ssh.Context, c net.Conn) net.Conn {
	remote := c.RemoteAddr()
	if !s.limiter.allow(remote) {
		s.log.Warn("connection refused: rate limit", "remote", remote.String())
		return nil
	}
	if !s.conns.acquire(s.o.MaxConns) {
		s.log.Warn("connection refused: too many connections", "remote", remote.String(), "max", s.o.MaxConns)
		return nil
	}
	cc := &countedConn{Conn: c, release: s.conns.release}
	// Unauthenticated connections get LoginGrace, not the idle timeout.
	t := time.AfterFunc(s.o.LoginGrace, func() {
		if ctx.Value(ssh.ContextKeyPublicKey) == nil {
			s.log.Info("connection closed: login grace expired", "remote", remote.String())
			_ = cc.Close()
		}
	})
	go func() {
		<-ctx.Done() // the connection is gone
		t.Stop()
	}()
	return cc
}

// slogPrintf adapts slog to recover's Printf logger.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, v ...any) {
	p.l.Error("panic in session", "panic", fmt.Sprintf(format, v...))
}
