package sshd

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"
)

// A terminal that answers no query — a real SSH client with a pty whose
// input stays open and silent — gets the console at once, and is sent
// no query: the console chooses its palette (dark unless COLORFGBG says
// otherwise) instead of asking for the background colour. Before, the
// renderer sent the query and waited for an answer that never came:
// nothing was drawn.
func TestConsoleDrawsForATerminalThatNeverAnswers(t *testing.T) {
	rendered := make(chan TUISession, 2)
	f := newFixture(t, func(o *Options) {
		o.NewProgram = TUIProgram(func(s TUISession) tea.Model {
			rendered <- s
			return sendModel{}
		})
	})
	for _, c := range []struct {
		env  string
		dark bool
	}{{"", true}, {"15;0", true}, {"0;15", false}} {
		conn, err := f.dial(f.oper)
		if err != nil {
			t.Fatal(err)
		}
		s, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if c.env != "" {
			if err := s.Setenv("COLORFGBG", c.env); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		out, _ := s.StdoutPipe()
		if _, err := s.StdinPipe(); err != nil { // open, and never written
			t.Fatal(err)
		}
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		seen := &bytes.Buffer{}
		if err := readUntil(io.TeeReader(out, seen), "placeholder ready for sousa", 5*time.Second); err != nil {
			t.Fatalf("COLORFGBG %q: no console from a terminal that answers nothing: %v", c.env, err)
		}
		// OSC 11 (background colour) and DA1 are the queries a renderer sends.
		if q := seen.String(); strings.Contains(q, "\x1b]11;?") || strings.Contains(q, "\x1b[c") {
			t.Errorf("the console queried the terminal: %q", q)
		}
		ts := <-rendered
		if p := ts.Renderer.ColorProfile(); p != termenv.ANSI256 {
			t.Errorf("xterm-256color: colour profile %v, want ANSI256", p)
		}
		if ts.Renderer.HasDarkBackground() != c.dark {
			t.Errorf("COLORFGBG %q: dark background %v, want %v", c.env, ts.Renderer.HasDarkBackground(), c.dark)
		}
		conn.Close()
	}
}
