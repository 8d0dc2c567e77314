package sshd

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	bm "github.com/charmbracelet/wish/bubbletea"
	"github.com/muesli/termenv"

	"mimamori/core"
)

// ProgramFactory builds a new tea.Program for one interactive session.
// It must pass ProgramOptions(s). Returning nil ends the session.
type ProgramFactory func(s ssh.Session, actor core.Actor) *tea.Program

// ProgramOptions are the options every session's program needs: the
// session as input and output, the alternate screen, the session's
// context (the program stops when the connection goes) and no signal
// handlers (the daemon owns SIGINT/SIGTERM).
func ProgramOptions(s ssh.Session) []tea.ProgramOption {
	return append(bm.MakeOptions(s),
		tea.WithInput(newConsoleInput(s, s.Context().Done(), time.Now)),
		tea.WithAltScreen(),
		tea.WithContext(s.Context()),
		tea.WithoutSignalHandler(),
	)
}

// TUISession is what a console model needs from its SSH session; it
// carries the fields of tui.Common that the SSH layer knows.
type TUISession struct {
	Session       ssh.Session
	Ctx           context.Context
	Renderer      *lipgloss.Renderer // per session, never the global one
	Actor         core.Actor
	Lang          string
	Location      *time.Location
	Width, Height int
	Logger        *slog.Logger
	// Send delivers a message to this session's program. It blocks until
	// the program takes it and returns at once once the session is gone.
	Send func(tea.Msg)
}

// TUIProgram turns a model constructor into a ProgramFactory, e.g.
//
//	sshd.TUIProgram(func(ts sshd.TUISession) tea.Model {
//		return tui.New(tui.Common{Ctx: ts.Ctx, Renderer: ts.Renderer, ...})
//	})
func TUIProgram(build func(TUISession) tea.Model) ProgramFactory {
	return func(s ssh.Session, actor core.Actor) *tea.Program {
		info, _ := InfoFromContext(s.Context())
		ctx := s.Context()
		ready := make(chan *tea.Program, 1)
		ts := TUISession{
			Session:  s,
			Ctx:      ctx,
			Renderer: consoleRenderer(s),
			Actor:    actor,
			Lang:     info.Lang,
			Location: info.Location,
			Logger:   info.Logger,
			Send:     sendOnce(ctx, ready),
		}
		if pty, _, ok := s.Pty(); ok {
			ts.Width, ts.Height = pty.Window.Width, pty.Window.Height
		}
		if ts.Location == nil {
			ts.Location = defaultLocation()
		}
		if ts.Logger == nil {
			ts.Logger = slog.Default()
		}
		m := build(ts)
		if m == nil {
			return nil
		}
		prog := tea.NewProgram(m, ProgramOptions(s)...)
		ready <- prog
		return prog
	}
}

// consoleMinProfile is the fewest colours the console draws with: a client
// reporting fewer gets these anyway (bubbletea's middleware is given the
// same, runConsole).
const consoleMinProfile = termenv.ANSI256

// consoleRenderer is the session's lipgloss renderer, made without asking
// the terminal anything. wish's MakeRenderer sends a background-colour
// query and reads the session until the answer comes; the read cannot be
// cancelled on an SSH channel, so a terminal that never answers got no
// console at all.
// The palette is chosen instead: a dark background, unless the client
// sent COLORFGBG saying otherwise.
func consoleRenderer(s ssh.Session) *lipgloss.Renderer {
	pty, _, ok := s.Pty()
	if !ok || pty.Term == "" || pty.Term == "dumb" {
		return lipgloss.NewRenderer(s, termenv.WithProfile(termenv.Ascii))
	}
	env := sessionEnviron(append(s.Environ(), "TERM="+pty.Term))
	r := lipgloss.NewRenderer(s, termenv.WithEnvironment(env), termenv.WithUnsafe())
	if r.ColorProfile() > consoleMinProfile {
		r.SetColorProfile(consoleMinProfile)
	}
	r.SetHasDarkBackground(darkBackground(env.Getenv("COLORFGBG")))
	return r
}

// darkBackground reads COLORFGBG ("fg;bg", as rxvt and others set it):
// background 7 or 15 is light, anything else or nothing is dark.
func darkBackground(colorfgbg string) bool {
	if i := strings.LastIndexByte(colorfgbg, ';'); i >= 0 {
		bg := colorfgbg[i+1:]
		return bg != "7" && bg != "15"
	}
	return true
}

// sessionEnviron is a session's environment for termenv.
type sessionEnviron []string

func (e sessionEnviron) Environ() []string { return e }

func (e sessionEnviron) Getenv(k string) string {
	v := ""
	for _, kv := range e {
		if name, val, ok := strings.Cut(kv, "="); ok && name == k {
			v = val // the last one wins, as in a shell
		}
	}
	return v
}

// sendOnce returns a Send that waits for the program to exist. Safe for
// concurrent use: the program is published through a closed channel.
func sendOnce(ctx context.Context, ready chan *tea.Program) func(tea.Msg) {
	published := make(chan struct{})
	var prog *tea.Program
	go func() {
		select {
		case prog = <-ready:
			close(published)
		case <-ctx.Done():
		}
	}()
	return func(m tea.Msg) {
		select {
		case <-published:
			prog.Send(m)
		case <-ctx.Done():
		}
	}
}

// The console reads input at a person's pace: consoleReadBurst reads at
// once (a paste of a long note), then consoleReadRate a second, each of at
// most maxConsoleRead bytes. Every read is a message the console handles
// and draws for (a few ms), so a client pouring input at full speed would
// otherwise keep a core busy for each console it opens.
const (
	consoleReadBurst = 40
	consoleReadRate  = 20
)

// maxConsoleRead is one less than the console library's read buffer
// (bubbletea's readAnsiInputs reads 256 bytes). A read that fills that
// buffer makes the library wait for more before it ends a run of letters,
// keeping everything so far and parsing it again at every read: letters
// sent without a break cost memory and CPU quadratic in their length (a
// megabyte kept a core busy for as long as the session lasted). A shorter
// read ends every run.
const maxConsoleRead = 255

// consoleInput is the console's input: paced, in reads of at most
// maxConsoleRead bytes that do not end inside an escape sequence or a
// character when more input follows.
type consoleInput struct {
	r       io.Reader
	done    <-chan struct{}
	now     func() time.Time
	tokens  float64
	last    time.Time
	pending []byte // the start of a sequence held back for the next read
}

func newConsoleInput(r io.Reader, done <-chan struct{}, now func() time.Time) *consoleInput {
	return &consoleInput{r: r, done: done, now: now, tokens: consoleReadBurst, last: now()}
}

// pace waits until a read may be made.
func (c *consoleInput) pace() error {
	for {
		now := c.now()
		if el := now.Sub(c.last); el > 0 {
			c.tokens = min(c.tokens+el.Seconds()*consoleReadRate, consoleReadBurst)
		}
		c.last = now
		if c.tokens >= 1 {
			c.tokens--
			return nil
		}
		t := time.NewTimer(time.Duration((1 - c.tokens) / consoleReadRate * float64(time.Second)))
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return io.EOF
		}
	}
}

func (c *consoleInput) Read(p []byte) (int, error) {
	if err := c.pace(); err != nil {
		return 0, err
	}
	p = p[:min(len(p), maxConsoleRead)]
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	if n < len(p) {
		m, err := c.r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	if n == len(p) && len(c.pending) == 0 {
		// More input may follow: do not end the read inside it.
		if cut := incompleteTail(p[:n]); cut > 0 {
			c.pending = append([]byte(nil), p[cut:n]...)
			n = cut
		}
	}
	return n, nil
}

// incompleteTail returns where an escape sequence or a UTF-8 character
// that may continue in the next read begins at the end of b, or 0.
func incompleteTail(b []byte) int {
	const longestSequence = 32
	for i := len(b) - 1; i > 0 && i >= len(b)-longestSequence; i-- {
		if b[i] == 0x1b {
			return i
		}
	}
	for i := len(b) - 1; i > 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return 0
}
