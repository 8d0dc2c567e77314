package sshd

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// stuckRequestLoops counts the SSH library's per-session request loops
// that are blocked handing a window change to nobody.
func stuckRequestLoops() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("[chan send")) && bytes.Contains(g, []byte("(*session).handleRequests")) {
			n++
		}
	}
	return n
}

// A client that resizes a terminal nobody draws (a command with a pty, a
// pty session before its command, an unknown subsystem) must not hold a
// goroutine and a channel slot for ever: the library hands each resize to
// a one-slot channel and waits until it is taken.
func TestResizesNeverHoldTheSession(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Commands = append(o.Commands, Command{Name: "wait", Run: func(env *Env, _ []string) int { <-env.Ctx.Done(); return 0 }})
	})
	base := stuckRequestLoops()
	orders := map[string]func(s *gossh.Session) error{
		"command then resizes": func(s *gossh.Session) error {
			if err := s.Start("wait"); err != nil {
				return err
			}
			return resize(s, 5)
		},
		"resizes then command": func(s *gossh.Session) error {
			if err := resize(s, 5); err != nil {
				return err
			}
			return s.Start("wait")
		},
		"unknown subsystem then resizes": func(s *gossh.Session) error {
			_ = s.RequestSubsystem("nosuch")
			return resize(s, 5)
		},
	}
	for name, order := range orders {
		c, err := f.dial(f.tech)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			err := order(s)
			if err == nil {
				// A round trip on the connection: the server has read
				// the resizes.
				_, _, err = c.SendRequest("keepalive@openssh.com", true, nil)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the server never answered (its request loop is blocked on a resize)", name)
		}
		c.Close()
	}
	waitFor(t, "every session's request loop to end", func() bool { return stuckRequestLoops() <= base })
	waitFor(t, "every channel slot back", func() bool { return f.srv.Stats().Channels == 0 })
}

func resize(s *gossh.Session, n int) error {
	for i := 0; i < n; i++ {
		if err := s.WindowChange(30+i, 100+i); err != nil {
			return err
		}
	}
	return nil
}

// Channels are capped per connection, per key across connections and in
// all, with the last ones kept for managers; sessions opened without a
// command count.
func TestChannelCaps(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.MaxChannelsPerConn, o.MaxChannelsPerKey, o.MaxChannels = 4, 6, 12 // reserve: 12/4 = 3
	})
	open := func(c *gossh.Client, n int) (opened int, last error) {
		for i := 0; i < n; i++ {
			ch, reqs, err := c.OpenChannel("session", nil)
			if err != nil {
				last = err
				continue
			}
			go gossh.DiscardRequests(reqs)
			t.Cleanup(func() { ch.Close() })
			opened++
		}
		return opened, last
	}
	dial := func(u user) *gossh.Client {
		c, err := f.dial(u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	tech1, tech2 := dial(f.tech), dial(f.tech)
	if n, err := open(tech1, 10); n != 4 || err == nil || !strings.Contains(err.Error(), errConnChannels.Error()) {
		t.Fatalf("first connection: %d channels, %v; want 4 and %q", n, err, errConnChannels)
	}
	if n, err := open(tech2, 10); n != 2 || err == nil || !strings.Contains(err.Error(), errKeyChannels.Error()) {
		t.Fatalf("second connection of the key: %d channels, %v; want 2 and %q", n, err, errKeyChannels)
	}
	oper := dial(f.oper)
	if n, err := open(oper, 10); n != 3 || err == nil || !strings.Contains(err.Error(), errChannelsFull.Error()) {
		t.Fatalf("operator: %d channels, %v; want 3 (9 of 12 for non-managers) and %q", n, err, errChannelsFull)
	}
	mgr := dial(f.manager)
	if n, _ := open(mgr, 3); n != 3 {
		t.Fatalf("manager got %d of the 3 reserved channels", n)
	}
	if got := f.srv.Stats(); got.Channels != 12 || got.Refusals[RefusedChannelCap] == 0 {
		t.Errorf("stats: %d channels, %d refusals; want 12 and some", got.Channels, got.Refusals[RefusedChannelCap])
	}
	// Closing a connection gives its channels back.
	tech1.Close()
	waitFor(t, "the connection's channels back", func() bool { return f.srv.Stats().Channels == 8 })
	if n, _ := open(dial(f.tech), 1); n != 1 {
		t.Error("the key got no channel back after its connection closed")
	}
}

// sizeModel shows the terminal size the console was told.
type sizeModel struct{ w, h int }

func (sizeModel) Init() tea.Cmd { return nil }
func (m sizeModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if ws, ok := msg.(tea.WindowSizeMsg); ok {
		m.w, m.h = ws.Width, ws.Height
	}
	return m, nil
}
func (m sizeModel) View() string { return fmt.Sprintf("size %dx%d.", m.w, m.h) }

// The console never believes a terminal larger than 1000 × 400, at the
// start or after a resize (it draws whole screens of the size it is told).
func TestTerminalSizeClamped(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.NewProgram = func(s ssh.Session, _ core.Actor) *tea.Program {
			return tea.NewProgram(sizeModel{}, ProgramOptions(s)...)
		}
	})
	c, err := f.dial(f.tech)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 100000, 200000, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("size %dx%d.", maxTermCols, maxTermRows)
	if err := readUntil(out, want, 10*time.Second); err != nil {
		t.Fatalf("initial size: %v", err)
	}
	if err := s.WindowChange(50, 1<<31); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(out, fmt.Sprintf("size %dx50.", maxTermCols), 10*time.Second); err != nil {
		t.Fatalf("after a resize: %v", err)
	}
}

// A few short environment variables are accepted (ssh sends LANG and
// LC_*); more, or longer ones, are refused.
func TestEnvironmentBounded(t *testing.T) {
	f := newFixture(t, nil)
	c, err := f.dial(f.tech)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setenv("LANG", "ja_JP.UTF-8"); err != nil {
		t.Errorf("LANG refused: %v", err)
	}
	if err := s.Setenv("LC_ALL", strings.Repeat("x", maxEnvValueLen+1)); err == nil {
		t.Error("an over-long value accepted")
	}
	if err := s.Setenv(strings.Repeat("K", maxEnvKeyLen+1), "v"); err == nil {
		t.Error("an over-long name accepted")
	}
	accepted := 1
	for i := 0; i < 2*maxEnvVars; i++ {
		if s.Setenv(fmt.Sprintf("LC_%d", i), "C") == nil {
			accepted++
		}
	}
	if accepted != maxEnvVars {
		t.Errorf("%d variables accepted, want %d", accepted, maxEnvVars)
	}
}

// Input a command does not read is bounded: past maxChannelInput the
// channel is closed with a message. A command that reads gets all of a
// large input, however early the client sends it.
func TestUnreadInputClosesTheChannel(t *testing.T) {
	got := make(chan int64, 1)
	f := newFixture(t, func(o *Options) {
		o.Commands = append(o.Commands,
			Command{Name: "ignore", Run: func(env *Env, _ []string) int { <-env.Ctx.Done(); return 0 }},
			Command{Name: "slurp", Run: func(env *Env, _ []string) int {
				n, _ := io.Copy(io.Discard, env.Stdin)
				got <- n
				return 0
			}})
	})
	run := func(cmd string, input int, chunk int) (stderr string, err error) {
		c, err := f.dial(f.tech)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var errb bytes.Buffer
		s.Stderr = &errb
		in, _ := s.StdinPipe()
		if err := s.Start(cmd); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, chunk)
		for sent := 0; sent < input; sent += chunk {
			if _, err := in.Write(buf); err != nil {
				break
			}
		}
		in.Close()
		err = s.Wait()
		return errb.String(), err
	}
	stderr, err := run("ignore", maxChannelInput+1<<20, 32<<10)
	if err == nil || !strings.Contains(stderr, errInputOverflow.Error()) {
		t.Errorf("%d MiB into a command that reads nothing: %v, stderr %q", maxChannelInput>>20+1, err, stderr)
	}
	waitFor(t, "the unread input's budget back", func() bool { return f.srv.input.inUse() == 0 })
	if _, err := run("slurp", 8<<20, 32<<10); err != nil {
		t.Errorf("8 MiB into a command that reads it: %v", err)
	}
	if n := <-got; n != 8<<20 {
		t.Errorf("the command read %d bytes of 8 MiB", n)
	}
}

// keyCounter counts the characters the console was given.
type keyCounter struct{ got chan<- int }

func (keyCounter) Init() tea.Cmd { return nil }
func (m keyCounter) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		m.got <- len(k.Runes)
	}
	return m, nil
}
func (keyCounter) View() string { return "counting." }

// openCounter opens a console that counts the characters it is given,
// answers its terminal query as a terminal does and waits for it to draw.
func openCounter(t *testing.T, f *fixture, got chan int) io.Writer {
	t.Helper()
	c, err := f.dial(f.tech)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	in, _ := s.StdinPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\\x1b[?62;22c")); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(out, "counting.", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)      //nolint:errcheck // keep the window open
	count(got, 200*time.Millisecond) // the query's answer, taken as keys
	return in
}

func counterFixture(t *testing.T) (*fixture, chan int) {
	got := make(chan int, 1<<20)
	f := newFixture(t, func(o *Options) {
		o.NewProgram = func(s ssh.Session, _ core.Actor) *tea.Program {
			return tea.NewProgram(keyCounter{got: got}, ProgramOptions(s)...)
		}
	})
	return f, got
}

// count sums what the console took until d has passed.
func count(got chan int, d time.Duration) int {
	n := 0
	deadline := time.After(d)
	for {
		select {
		case k := <-got:
			n += k
		case <-deadline:
			return n
		}
	}
}

// Letters without a break, in reads that fill the console library's
// buffer: the library waited for the end of the run, kept everything and
// parsed it again at every read — a megabyte of "a" cost a core for as
// long as the session lasted, and nothing reached the console.
func TestConsoleTakesLettersWithoutABreak(t *testing.T) {
	f, got := counterFixture(t)
	in := openCounter(t, f, got)
	const letters = consoleReadBurst * 256 // reads that fill the library's buffer
	if _, err := in.Write(bytes.Repeat([]byte("a"), letters)); err != nil {
		t.Fatal(err)
	}
	if n := count(got, 3*time.Second); n != letters {
		t.Errorf("the console took %d of %d letters in 3 s", n, letters)
	}
}

// The console reads input at a person's pace: a burst of reads (a paste)
// at once, then consoleReadRate reads a second. Each read is a message the
// console handles and draws for, so an enrolled key pouring input into
// eight consoles would otherwise keep the appliance's cores busy.
func TestConsoleInputPaced(t *testing.T) {
	f, got := counterFixture(t)
	in := openCounter(t, f, got)
	start := time.Now()
	// Spaces break the runs into keys of their own.
	const total = 64 << 10
	if _, err := in.Write(bytes.Repeat([]byte("abc "), total/4)); err != nil {
		t.Fatal(err)
	}
	n := count(got, time.Second)
	elapsed := time.Since(start).Seconds()
	if limit := (consoleReadBurst + int(consoleReadRate*(elapsed+0.5))) * maxConsoleRead; n > limit {
		t.Errorf("the console took %d bytes in %.1f s (at most %d)", n, elapsed, limit)
	}
	if n < consoleReadBurst*maxConsoleRead/2 {
		t.Errorf("the console took only %d bytes of a %d-byte paste in %.1f s", n, total, elapsed)
	}
}

// Input left unread in a channel the client closes is given back: a key
// must not use up its budget (or the server's) by sending and leaving.
func TestUnreadInputOfClosedChannelsGivenBack(t *testing.T) {
	f := newFixture(t, nil)
	c, err := f.dial(f.tech)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for i := 0; i < 2*maxKeyInput/(1<<20); i++ {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		go gossh.DiscardRequests(reqs)
		for sent := 0; sent < 1<<20; sent += len(chunk) {
			if _, err := ch.Write(chunk); err != nil {
				t.Fatalf("channel %d: %v", i, err)
			}
		}
		ch.Close()
	}
	waitFor(t, "the unread input's budget back", func() bool { return f.srv.input.inUse() == 0 })
}
