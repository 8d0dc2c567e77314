package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// user is a test key pair and the actor it was enrolled as.
type user struct {
	signer gossh.Signer
	line   string
	actor  core.Actor
	priv   ed25519.PrivateKey // for the OpenSSH tools (opensshKey)
}

func newSigner(t testing.TB) (gossh.Signer, string) {
	s, line, _ := newSignerKey(t)
	return s, line
}

func newSignerKey(t testing.TB) (gossh.Signer, string, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))), priv
}

func enroll(t testing.TB, st *core.Store, name string, role core.Role) user {
	t.Helper()
	s, line, priv := newSignerKey(t)
	k, err := st.EnrollKey(core.SystemActor("test"), name, role, line)
	if err != nil {
		t.Fatalf("enroll %s: %v", name, err)
	}
	return user{signer: s, line: line, actor: k.Actor(), priv: priv}
}

// fakeFootage stands in for the recorder.
type fakeFootage struct{}

func (fakeFootage) Coverage(camera string, from, to time.Time) ([]core.Span, error) {
	mid := from.Add(to.Sub(from) / 2)
	return []core.Span{
		{Camera: camera, Start: from, End: mid, Bytes: 1 << 20},
		{Camera: camera, Start: mid.Add(time.Minute), End: to, Bytes: 2 << 20},
	}, nil
}

func (fakeFootage) Stats() core.RecorderStats {
	return core.RecorderStats{
		Ring: core.RingStats{CapacityBytes: 20 << 30, UsedBytes: 5 << 30, Blocks: 100, FreeBlocks: 75},
		Cameras: []core.CameraStats{{Camera: "cam1", Connected: true, State: "recording", Codec: "H264",
			Width: 1920, Height: 1080, FPS: 15, BitrateBps: 4e6, TargetRetain: 7 * 24 * time.Hour}},
	}
}

func (fakeFootage) CheckHold(string, time.Time, time.Time, []core.HoldRange) error { return nil }

// placeholder is a tiny console: it shows who is logged in and quits on q.
type placeholder struct{ name string }

func (placeholder) Init() tea.Cmd { return nil }

func (m placeholder) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok && k.String() == "q" {
		return m, tea.Quit
	}
	return m, nil
}

func (m placeholder) View() string { return "placeholder ready for " + m.name + "\n" }

func placeholderFactory(s ssh.Session, a core.Actor) *tea.Program {
	return tea.NewProgram(placeholder{name: a.Name}, ProgramOptions(s)...)
}

type fixture struct {
	t       *testing.T
	dir     string
	store   *core.Store
	srv     *Server
	addr    string
	manager user
	oper    user
	tech    user
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFixture starts a real server on 127.0.0.1:0 over a real store.
func newFixture(t *testing.T, tweak func(*Options)) *fixture {
	t.Helper()
	return newPolicyFixture(t, core.Policy{}, tweak)
}

// newPolicyFixture is newFixture under a policy profile (zero: the city's).
func newPolicyFixture(t *testing.T, p core.Policy, tweak func(*Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	st.SetFootage(fakeFootage{})
	f := &fixture{t: t, dir: dir, store: st, logs: &syncBuffer{}}
	f.manager = enroll(t, st, "kanri", core.RoleManager)
	f.oper = enroll(t, st, "sousa", core.RoleOperator)
	f.tech = enroll(t, st, "hoshu", core.RoleTechnician)
	o := Options{
		DataDir:     dir,
		Core:        st,
		Logger:      slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Lang:        "en",
		PerAddrRate: Rate{N: 1000, Per: time.Second},
		// Tests run many commands with one key in a row; the attack
		// tests (attack_test.go) run with the defaults.
		PerKeySessionRate: Rate{N: 1000, Per: time.Second},
		NewProgram:        placeholderFactory,
	}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	f.srv = srv
	f.addr = l.Addr().String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		_ = st.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", f.logs.String())
		}
	})
	return f
}

func clientConfig(auth ...gossh.AuthMethod) *gossh.ClientConfig {
	return &gossh.ClientConfig{
		User:            "mimamori",
		Auth:            auth,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
}

func (f *fixture) dial(u user) (*gossh.Client, error) {
	return gossh.Dial("tcp", f.addr, clientConfig(gossh.PublicKeys(u.signer)))
}

// run executes one command as u and returns stdout, stderr and the exit
// status.
func (f *fixture) run(u user, cmd string) (string, string, int) {
	f.t.Helper()
	c, err := f.dial(u)
	if err != nil {
		f.t.Fatalf("dial as %s: %v", u.actor.Name, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		f.t.Fatalf("session: %v", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	err = s.Run(cmd)
	code := 0
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case err != nil:
		f.t.Fatalf("run %q: %v", cmd, err)
	}
	return out.String(), errb.String(), code
}

// openConsole opens a pty session with no command (the TUI) and waits for
// the placeholder to draw. The returned channel yields Wait's result.
func (f *fixture) openConsole(u user) (*gossh.Client, <-chan error) {
	f.t.Helper()
	c, err := f.dial(u)
	if err != nil {
		f.t.Fatalf("dial as %s: %v", u.actor.Name, err)
	}
	f.t.Cleanup(func() { c.Close() })
	s, err := c.NewSession()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		f.t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := s.StdinPipe(); err != nil {
		f.t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		f.t.Fatal(err)
	}
	want := "placeholder ready for " + u.actor.Name
	if err := readUntil(out, want, 10*time.Second); err != nil {
		f.t.Fatalf("console of %s: %v", u.actor.Name, err)
	}
	go io.Copy(io.Discard, out) //nolint:errcheck // keep the window open
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	return c, done
}

func readUntil(r io.Reader, want string, timeout time.Duration) error {
	found := make(chan error, 1)
	go func() {
		var seen []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte(want)) {
				found <- nil
				return
			}
			if err != nil {
				found <- errors.New("stream ended before " + want + ": " + string(seen))
				return
			}
		}
	}()
	select {
	case err := <-found:
		return err
	case <-time.After(timeout):
		return errors.New("timed out waiting for " + want)
	}
}

// Dates in test commands are relative to now, so the date windows
// (footage up to two years back, paperwork up to one) hold in any year:
// DAY0 in a test string is the date 30 days ago in Japan (DAY0JA as
// forms print it), DAY-1 the day before it (the UTC date of DAY0's first
// nine hours).
var (
	testDay0  = time.Now().In(time.FixedZone("JST", 9*60*60)).AddDate(0, 0, -30)
	testDates = strings.NewReplacer("DAY0JA", testDay0.Format("2006年1月2日"),
		"DAY-1", testDay0.AddDate(0, 0, -1).Format(time.DateOnly), "DAY0", testDay0.Format(time.DateOnly))
)

// dated puts the test dates into s (DAY0, DAY0JA, DAY-1).
func dated(s string) string { return testDates.Replace(s) }

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// entries returns the whole ledger as the manager sees it.
func (f *fixture) entries() []core.Entry {
	f.t.Helper()
	es, err := f.store.Ledger(f.manager.actor, 0, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

func hasEntry(es []core.Entry, match func(core.Entry) bool) bool {
	for _, e := range es {
		if match(e) {
			return true
		}
	}
	return false
}
