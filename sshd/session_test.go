package sshd

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

func TestLoginLogoutLedgered(t *testing.T) {
	f := newFixture(t, nil)
	out, _, code := f.run(f.oper, "whoami")
	if code != 0 {
		t.Fatalf("whoami: %d", code)
	}
	var sid string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "session") {
			sid = strings.TrimSpace(strings.TrimPrefix(line, "session"))
		}
	}
	if sid == "" {
		t.Fatalf("no session id in %q", out)
	}
	match := func(a core.Action) func(core.Entry) bool {
		return func(e core.Entry) bool {
			return e.Action == a && e.Actor.Fingerprint == f.oper.actor.Fingerprint &&
				e.Details["session"] == sid && strings.HasPrefix(e.Details["remote"], "127.0.0.1:") &&
				e.Details["kind"] == "command" && e.Details["command"] == "whoami"
		}
	}
	if !hasEntry(f.entries(), match(core.ActionLogin)) {
		t.Fatalf("no login entry for session %s", sid)
	}
	// Logout is written as the session ends, possibly after the client saw
	// the exit status.
	waitFor(t, "logout entry", func() bool { return hasEntry(f.entries(), match(core.ActionLogout)) })

	// A console session is ledgered as well.
	c, done := f.openConsole(f.manager)
	c.Close()
	<-done
	waitFor(t, "console logout", func() bool {
		return hasEntry(f.entries(), func(e core.Entry) bool {
			return e.Action == core.ActionLogout && e.Actor.Fingerprint == f.manager.actor.Fingerprint && e.Details["kind"] == "console"
		})
	})
}

func TestRevocationClosesOpenSessions(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RecheckInterval = time.Hour }) // only the notification may act
	_, done1 := f.openConsole(f.oper)
	_, done2 := f.openConsole(f.oper) // a second session of the same key
	_, other := f.openConsole(f.tech)
	if n := f.srv.Sessions(); n != 3 {
		t.Fatalf("open sessions = %d, want 3", n)
	}
	if err := f.store.RevokeKey(f.manager.actor, f.oper.actor.Fingerprint, "lost laptop"); err != nil {
		t.Fatal(err)
	}
	for i, done := range []<-chan error{done1, done2} {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("session %d of the revoked key still open", i+1)
		}
	}
	select {
	case err := <-other:
		t.Fatalf("another key's session ended too: %v", err)
	default:
	}
	waitFor(t, "registry pruned", func() bool { return f.srv.Sessions() == 1 })
	waitFor(t, "logout with reason", func() bool {
		return hasEntry(f.entries(), func(e core.Entry) bool {
			return e.Action == core.ActionLogout && e.Actor.Fingerprint == f.oper.actor.Fingerprint &&
				e.Details["reason"] == "key revoked"
		})
	})
	if c, err := f.dial(f.oper); err == nil {
		c.Close()
		t.Fatal("revoked key can log in again")
	}

	// A role change ends the sessions opened with the old role too.
	if err := f.store.ChangeKeyRole(f.manager.actor, f.tech.actor.Fingerprint, core.RoleOperator); err != nil {
		t.Fatal(err)
	}
	select {
	case <-other:
	case <-time.After(10 * time.Second):
		t.Fatal("session survived a role change")
	}
}

func TestPeriodicRecheckCatchesExpiry(t *testing.T) {
	// Without any notification (e.g. a dropped one), the periodic recheck
	// still ends the session.
	f := newFixture(t, func(o *Options) { o.RecheckInterval = 50 * time.Millisecond })
	_, done := f.openConsole(f.oper)
	f.srv.reg.mu.Lock()
	for l := range f.srv.reg.byFP[f.oper.actor.Fingerprint] {
		l.actor.Role = core.RoleManager // as if core changed the role silently
	}
	f.srv.reg.mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("periodic recheck did not end the session")
	}
}

func TestSessionCap(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxSessions = 2; o.MaxConns = 10 })
	f.openConsole(f.manager)
	f.openConsole(f.oper)
	_, errOut, code := f.run(f.tech, "whoami")
	if code != 1 || !strings.Contains(errOut, "too many open sessions") {
		t.Fatalf("third session: code %d stderr %q", code, errOut)
	}
	if strings.Contains(f.logs.String(), "session refused") == false {
		t.Error("refusal not logged")
	}
	// No login was ledgered for the refused session.
	if hasEntry(f.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionLogin && e.Actor.Fingerprint == f.tech.actor.Fingerprint
	}) {
		t.Error("refused session has a login entry")
	}
}

// Unauthenticated connections have their own pool, per address and in
// all: holding it full does not keep an enrolled key out, because a
// newcomer pushes out the oldest unauthenticated connection.
func TestUnauthenticatedPoolMakesRoom(t *testing.T) {
	// Only the eviction may close a held connection here: the login
	// grace is far beyond the test (under load it once outlasted 10 s).
	f := newFixture(t, func(o *Options) { o.MaxUnauthPerAddr = 2; o.MaxUnauthenticated = 3; o.LoginGrace = time.Hour })
	var held []net.Conn
	closed := make(chan net.Conn, 2)
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", f.addr) // holds a slot without authenticating
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
		go func() {
			if _, err := io.ReadAll(c); err == nil { // EOF: the server closed it
				closed <- c
			}
		}()
	}
	waitFor(t, "slots taken", func() bool { n, _ := f.srv.conns.counts(); return n == 2 })
	if _, _, code := f.run(f.oper, "whoami"); code != 0 {
		t.Fatalf("enrolled key kept out by held connections: exit %d", code)
	}
	// One held connection (the one the server admitted first) was closed
	// to make room; the other is still waiting, the only one left in the
	// unauthenticated pool.
	var gone net.Conn
	select {
	case gone = <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("no held connection was closed to make room")
	}
	kept := held[0]
	if gone == held[0] {
		kept = held[1]
	}
	waitFor(t, "the newcomer's slot released", func() bool { n, _ := f.srv.conns.counts(); return n == 1 })
	f.srv.conns.mu.Lock()
	var left []string
	for _, l := range f.srv.conns.unauth {
		for _, tc := range l {
			left = append(left, tc.conn.RemoteAddr().String())
		}
	}
	f.srv.conns.mu.Unlock()
	if len(left) != 1 || left[0] != kept.LocalAddr().String() {
		t.Fatalf("unauthenticated pool holds %v, want only %s", left, kept.LocalAddr())
	}
	select {
	case <-closed:
		t.Fatal("both held connections were closed")
	default:
	}
	if !strings.Contains(f.logs.String(), "closed to make room") {
		t.Error("eviction not logged")
	}
}

func TestLoginGraceClosesSilentConnections(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LoginGrace = 100 * time.Millisecond })
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server kept an unauthenticated connection open")
			}
			break // closed by the server
		}
	}
	waitFor(t, "slot released", func() bool { n, _ := f.srv.conns.counts(); return n == 0 })
}

func TestPerAddressRateLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.PerAddrRate = Rate{N: 3, Per: time.Hour} })
	for i := 0; i < 3; i++ {
		if _, _, code := f.run(f.oper, "whoami"); code != 0 {
			t.Fatalf("connection %d: exit %d", i+1, code)
		}
	}
	if c, err := f.dial(f.oper); err == nil {
		c.Close()
		t.Fatal("4th connection within the window accepted")
	}
	if !strings.Contains(f.logs.String(), "rate limit") {
		t.Error("refusal not logged")
	}
}

func TestShutdownQuitsConsoles(t *testing.T) {
	f := newFixture(t, nil)
	_, done := f.openConsole(f.oper)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("console still open after Shutdown")
	}
	if !hasEntry(f.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionLogout && e.Details["reason"] == "shutdown"
	}) {
		t.Error("no logout entry with reason shutdown")
	}
	if c, err := f.dial(f.oper); err == nil {
		c.Close()
		t.Fatal("new connection accepted after Shutdown")
	}
}

// sendModel shows the last message TUIProgram's Send delivered.
type sendModel struct{ got string }

type hello string

func (sendModel) Init() tea.Cmd { return nil }

func (m sendModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if h, ok := msg.(hello); ok {
		m.got = string(h)
	}
	return m, nil
}

func (m sendModel) View() string { return "placeholder ready for sousa\ngot:" + m.got + ":\n" }

func TestTUIProgramSend(t *testing.T) {
	var ts TUISession
	gotTS := make(chan TUISession, 1)
	f := newFixture(t, func(o *Options) {
		o.NewProgram = TUIProgram(func(s TUISession) tea.Model {
			gotTS <- s
			return sendModel{}
		})
	})
	c, err := f.dial(f.oper)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.NewSession()
	if err := s.RequestPty("dumb", 30, 100, nil); err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	_, _ = s.StdinPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	ts = <-gotTS
	if ts.Actor.Fingerprint != f.oper.actor.Fingerprint || ts.Width != 100 || ts.Height != 30 ||
		ts.Renderer == nil || ts.Location == nil || ts.Lang != "en" {
		t.Fatalf("TUISession = %+v", ts)
	}
	go ts.Send(hello("from core"))
	if err := readUntil(out, "got:from core:", 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestIdleTimeoutClosesConsole(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.IdleTimeout = 300 * time.Millisecond })
	_, done := f.openConsole(f.oper) // the placeholder draws once, then nothing moves
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("idle console not closed")
	}
	waitFor(t, "registry pruned", func() bool { return f.srv.Sessions() == 0 })
}

// One key holds at most MaxSessionsPerKey sessions, and the last
// ManagerReserve sessions are the managers'.
func TestPerKeyCapAndManagerReserve(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxSessions = 6; o.ManagerReserve = 2; o.MaxSessionsPerKey = 3 })
	var c *gossh.Client
	for i := 0; i < 3; i++ {
		c, _ = f.openConsole(f.tech)
	}
	// A 4th session on an open connection is refused with the reason…
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	s.Stderr = &errb
	if err := s.Run("whoami"); err == nil || !strings.Contains(errb.String(), "too many open sessions for this key") {
		t.Fatalf("4th session of one key: %v %q", err, errb.String())
	}
	// …and a 4th connection at authentication, with the reason as a banner.
	var banner string
	conf := clientConfig(gossh.PublicKeys(f.tech.signer))
	conf.BannerCallback = func(m string) error { banner = m; return nil }
	if c, err := gossh.Dial("tcp", f.addr, conf); err == nil {
		c.Close()
		t.Fatal("4th connection of one key accepted")
	}
	if !strings.Contains(banner, "too many connections for this key") {
		t.Errorf("banner %q", banner)
	}
	f.openConsole(f.oper) // 4 of the 6: the non-managers' share is full
	if _, errOut, code := f.run(f.oper, "whoami"); code != 1 || !strings.Contains(errOut, "too many open sessions") {
		t.Fatalf("operator took the managers' reserve: %d %q", code, errOut)
	}
	f.openConsole(f.manager)
	if out, errOut, code := f.run(f.manager, "whoami"); code != 0 {
		t.Fatalf("manager locked out: %d %q %q", code, out, errOut)
	}
}
