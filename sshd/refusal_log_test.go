package sshd

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// logLines counts the server log's lines with message msg, and those of
// them that carry a count.
func (f *fixture) logLines(msg string) (lines, counted int) {
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) {
			lines++
			if strings.Contains(l, " count=") {
				counted++
			}
		}
	}
	return lines, counted
}

func (f *fixture) shutdown() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// A flood of refusals writes O(1) log lines: the first at once, then one
// with the count per minute (here: at shutdown), whatever the flood's
// size — the ledger was protected already (core coalesces), the log too
// now. Before, every refused connection, unknown key and refused session
// was a line (a refused session two more: its start and end).
func TestRefusalFloodsLogFewLines(t *testing.T) {
	const n = 120
	t.Run("connections over the address rate", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.PerAddrRate = Rate{N: 1, Per: time.Hour} })
		for range n + 1 {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		waitFor(t, "every refusal counted", func() bool { return f.srv.Stats().Refusals[RefusedRate] == n })
		if lines, _ := f.logLines("connection refused: rate limit"); lines != 1 {
			t.Fatalf("%d log lines for %d refused connections, want 1 so far", lines, n)
		}
		f.shutdown()
		if lines, counted := f.logLines("connection refused: rate limit"); lines != 2 || counted != 1 ||
			!strings.Contains(f.logs.String(), "count="+itoa(n-1)) {
			t.Fatalf("%d lines (%d with a count) for %d refused connections, want the first and one count=%d", lines, counted, n, n-1)
		}
	})
	t.Run("keys nobody enrolled", func(t *testing.T) {
		f := newFixture(t, nil)
		for range n {
			s, _ := newSigner(t)
			if c, err := gossh.Dial("tcp", f.addr, clientConfig(gossh.PublicKeys(s))); err == nil {
				c.Close()
				t.Fatal("an unknown key logged in")
			}
		}
		if lines, _ := f.logLines("auth refused: key not enrolled"); lines != 1 {
			t.Fatalf("%d log lines for %d unknown keys, want 1 so far", lines, n)
		}
		f.shutdown()
		if lines, counted := f.logLines("auth refused: key not enrolled"); lines != 2 || counted != 1 {
			t.Fatalf("%d lines (%d with a count) for %d unknown keys", lines, counted, n)
		}
	})
	t.Run("sessions over the key's rate", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.PerKeySessionRate = Rate{N: 1, Per: time.Hour} })
		c, err := f.dial(f.oper)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range n + 1 {
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			err = s.Run("whoami")
			s.Close()
			if (i == 0) != (err == nil) {
				t.Fatalf("session %d: %v", i, err)
			}
		}
		waitFor(t, "every refusal counted", func() bool { return f.srv.Stats().Refusals[RefusedSessionRate] == n })
		if lines, _ := f.logLines("session refused: key session rate"); lines != 1 {
			t.Fatalf("%d log lines for %d refused sessions, want 1 so far", lines, n)
		}
		if starts, _ := f.logLines("session start"); starts != 1 {
			t.Fatalf("%d session start lines, want 1 (the session admitted)", starts)
		}
		c.Close()
		f.shutdown()
		if lines, counted := f.logLines("session refused: key session rate"); lines != 2 || counted != 1 {
			t.Fatalf("%d lines (%d with a count) for %d refused sessions", lines, counted, n)
		}
		if ends, _ := f.logLines("session end"); ends != 1 {
			t.Fatalf("%d session end lines, want 1", ends)
		}
	})
}
