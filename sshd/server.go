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
	"mimamori/ratelog"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or Close; callers treat it as a clean stop.
var ErrServerClosed = ssh.ErrServerClosed

// ErrConfig is wrapped by New for unusable Options.
var ErrConfig = errors.New("sshd: bad options")

// Defaults for zero Options fields.
const (
	DefaultIdleTimeout     = 15 * time.Minute
	DefaultLoginGrace      = 10 * time.Second
	DefaultMaxSessions     = 32
	DefaultMaxAuthTries    = 6
	DefaultRecheckInterval = time.Minute
	DefaultLang            = "ja"

	DefaultMaxUnauthenticated = 256 // connections not yet authenticated, all addresses (a few KiB each)
	DefaultMaxUnauthPerAddr   = 4   // of them from one address (IPv6: one /64)
	DefaultMaxSessionsPerKey  = 8   // open sessions (and connections) of one key
	DefaultManagerReserve     = 4   // sessions and connections only managers may take
)

// The default per-address rate is 30 new connections per 10 s from one IP: enough for
// a script running a request end to end, too few for a key scanner. A
// client over the rate waits for the next token (up to two may wait per
// address); beyond that it is refused.
const defaultPerAddrN, defaultPerAddrPer = 30, 10 * time.Second

// The default per-key session rate: 3 at once, then one every 3 s. A
// session writes two ledger entries (login, logout), so one key cannot
// write more than two entries every 3 s by opening sessions (57,600 a day
// at most, and ≤ 20 in any 10 s); a script over the rate waits a moment
// (at most two sessions per key wait).
const defaultKeySessionN, defaultKeySessionPer = 3, 9 * time.Second

// refusalLogInterval is how often a repeated refusal is logged (with its
// count) while it goes on; the first is logged at once.
const refusalLogInterval = time.Minute

// maxWaiters is how many callers may wait for a future token per address
// or per key, and maxWait the longest wait; the rest are refused at once.
const (
	maxWaiters = 2
	maxWait    = 3 * time.Second
)

// Options configure a Server. Only Core and DataDir are required.
type Options struct {
	Listen      string // e.g. ":2222"; used by ListenAndServe
	DataDir     string // the host key lives here (keys.LoadOrCreateHostKey)
	Core        *core.Store
	IdleTimeout time.Duration // no traffic for this long closes the connection
	// LoginGrace closes connections that have not authenticated by then.
	LoginGrace  time.Duration
	MaxSessions int // open sessions (all keys together); more are refused
	// MaxConns bounds authenticated connections (default 2*MaxSessions).
	// Unauthenticated ones are a separate pool: MaxUnauthenticated in
	// all, MaxUnauthPerAddr per address; a full pool closes its oldest
	// unauthenticated connection of the busiest address to make room.
	MaxConns           int
	MaxUnauthenticated int
	MaxUnauthPerAddr   int
	// MaxSessionsPerKey bounds one key's open sessions and its
	// authenticated connections; ManagerReserve sessions and connections
	// are kept for managers (no other role can take the last ones).
	MaxSessionsPerKey int
	ManagerReserve    int
	// Channels (sessions and forwards, with or without a command) per
	// connection, per key and in all; the last MaxChannelsPerKey of
	// MaxChannels are kept for managers (channels.go says why).
	MaxChannelsPerConn int
	MaxChannelsPerKey  int
	MaxChannels        int
	MaxAuthTries       int  // per connection
	PerAddrRate        Rate // new connections per remote IP; N < 0 disables
	// PerKeySessionRate bounds how fast one key opens sessions, however
	// many connections it uses; N < 0 disables.
	PerKeySessionRate Rate
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

	addrRate *keyedLimiter // new connections per address
	keyRate  *keyedLimiter // new sessions per key
	conns    *connTracker
	input    *inputBudget   // unread client input held (channels.go)
	refusals refusalCounter // by reason, for metrics (stats.go)
	// rlog coalesces the log lines of refusals and other events a hostile
	// client repeats at will: first at once, then a count per minute.
	rlog *ratelog.Logger
	reg  *registry
	seq  atomic.Uint64 // numbers sessions so login/logout pairs match
	// recordSession writes login and logout entries (Core.RecordSession;
	// tests make it fail as a full or failing disk does).
	recordSession func(core.Actor, core.Action, string, map[string]string) error

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
	if o.MaxUnauthenticated <= 0 {
		o.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if o.MaxUnauthPerAddr <= 0 {
		o.MaxUnauthPerAddr = DefaultMaxUnauthPerAddr
	}
	if o.MaxSessionsPerKey <= 0 {
		o.MaxSessionsPerKey = DefaultMaxSessionsPerKey
	}
	if o.ManagerReserve <= 0 {
		o.ManagerReserve = DefaultManagerReserve
	}
	if o.ManagerReserve >= o.MaxSessions {
		o.ManagerReserve = o.MaxSessions / 4
	}
	if o.MaxChannelsPerConn <= 0 {
		o.MaxChannelsPerConn = DefaultMaxChannelsPerConn
	}
	if o.MaxChannelsPerKey <= 0 {
		o.MaxChannelsPerKey = DefaultMaxChannelsPerKey
	}
	if o.MaxChannels <= 0 {
		o.MaxChannels = 4 * o.MaxSessions
	}
	if o.PerKeySessionRate == (Rate{}) {
		o.PerKeySessionRate = Rate{N: defaultKeySessionN, Per: defaultKeySessionPer}
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
		o:             o,
		log:           log,
		recordSession: o.Core.RecordSession,
		hostFP:        fp,
		cmds:          cmds,
		resolver:      keys.Resolver{Keys: o.Core},
		addrRate:      newKeyedLimiter(o.PerAddrRate, maxWaiters, maxWait, o.Now),
		keyRate:       newKeyedLimiter(o.PerKeySessionRate, maxWaiters, maxWait, o.Now),
		conns: newConnTracker(connLimits{
			unauth: o.MaxUnauthenticated, unauthPerAddr: o.MaxUnauthPerAddr,
			auth: o.MaxConns, authPerKey: o.MaxSessionsPerKey, managerReserve: min(o.ManagerReserve, o.MaxConns/4),
			chansPerConn: o.MaxChannelsPerConn, chansPerKey: o.MaxChannelsPerKey,
			chans: o.MaxChannels, chanReserve: min(o.MaxChannelsPerKey, o.MaxChannels/4),
		}),
		reg:   newRegistry(),
		input: newInputBudget(maxKeyInput, maxServerInput),
		rlog:  ratelog.New(log, refusalLogInterval),
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
			srv.ServerConfigCallback = s.serverConfig
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
	s.guardChannels(srv)
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
	s.rlog.Close()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// ctxKeyTracked holds the connection's *tracked in its ssh.Context.
const ctxKeyTracked ctxKey = 100

// connCallback runs before the SSH handshake: refuse early, cheaply. A
// client over its address's rate waits a moment for the next token.
func (s *Server) connCallback(ctx ssh.Context, c net.Conn) net.Conn {
	remote := c.RemoteAddr()
	host := hostOf(remote)
	wait, ok := s.addrRate.reserve(host)
	if !ok {
		s.rlog.Warn("connection refused: rate limit", "remote", remote.String())
		s.refusals.add(RefusedRate)
		return nil
	}
	tc := &tracked{conn: c, host: host}
	for _, old := range s.conns.admit(tc) {
		s.rlog.Info("unauthenticated connection closed to make room", "remote", old.conn.RemoteAddr().String())
		_ = old.conn.Close()
	}
	cc := &countedConn{Conn: c, release: func() { s.conns.release(tc) }}
	ctx.SetValue(ctxKeyTracked, tc)
	if wait > 0 {
		select {
		case <-time.After(wait):
		case <-s.ctx.Done():
			_ = cc.Close()
			return nil
		}
	}
	// Unauthenticated connections get LoginGrace, not the idle timeout.
	t := time.AfterFunc(s.o.LoginGrace, func() {
		if s.conns.unauthenticated(tc) {
			s.rlog.Info("connection closed: login grace expired", "remote", remote.String())
			_ = cc.Close()
		}
	})
	go func() {
		<-ctx.Done() // the connection is gone
		t.Stop()
	}()
	return cc
}

// serverConfig is each connection's SSH configuration: the algorithm
// policy, and admission once a key is proven.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	cfg := &gossh.ServerConfig{MaxAuthTries: s.o.MaxAuthTries}
	keys.ApplyServerPolicy(cfg)
	cfg.VerifiedPublicKeyCallback = func(_ gossh.ConnMetadata, pk gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
		return perms, s.admitKey(ctx, pk, perms)
	}
	return cfg
}

// admitKey runs once the client has proven it holds pk (an enrolled key,
// or publicKeyHandler would have refused it): the key policy, then the
// per-key and total connection caps. A refusal reaches the client as an
// authentication banner.
func (s *Server) admitKey(ctx ssh.Context, pk gossh.PublicKey, perms *gossh.Permissions) error {
	refuse := func(err error) error {
		return &gossh.BannerError{Err: err, Message: "mimamori: " + err.Error() + "\n"}
	}
	if err := keys.CheckKey(pk); err != nil {
		s.rlog.Warn("auth refused: key policy", "remote", ctx.RemoteAddr().String(), "fingerprint", keys.Fingerprint(pk), "err", err)
		s.refusals.add(RefusedKeyPolicy)
		return refuse(fmt.Errorf("this key is not accepted: %w", err))
	}
	tc, _ := ctx.Value(ctxKeyTracked).(*tracked)
	if tc == nil || perms == nil {
		return refuse(errConnGone)
	}
	fp := perms.Extensions[extFingerprint]
	var role core.Role
	_ = role.UnmarshalText([]byte(perms.Extensions[extRole]))
	if err := s.conns.authenticate(tc, fp, core.ScopeOf(role).Reserve); err != nil {
		s.rlog.Warn("auth refused: connection cap", "remote", ctx.RemoteAddr().String(), "fingerprint", fp, "err", err)
		s.refusals.add(RefusedConnCap)
		return refuse(err)
	}
	return nil
}

func (s *Server) sessionLimits() sessionLimits {
	return sessionLimits{total: s.o.MaxSessions, perKey: s.o.MaxSessionsPerKey, managerReserve: s.o.ManagerReserve}
}

// slogPrintf adapts slog to recover's Printf logger.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, v ...any) {
	p.l.Error("panic in session", "panic", fmt.Sprintf(format, v...))
}
