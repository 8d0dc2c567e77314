package sshd

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/ssh"
)

// MaxCommandLine bounds an SSH exec request's command line: the longest
// real command, request new with its five free texts at core's bound of
// 4000 characters each in Japanese (three bytes a character), is ~61 KB.
// A longer line is refused before anything is parsed, looked up or
// ledgered; splitting 64 KiB takes well under a millisecond (linear).
const MaxCommandLine = 64 << 10

var (
	errCmdTooLong   = fmt.Errorf("the command line is longer than %d bytes", MaxCommandLine)
	errCmdUnclosed  = errors.New("unbalanced quotes in the command line")
	errCmdTrailing  = errors.New("the command line ends in a backslash")
	errCmdNotUTF8   = errors.New("the command line is not valid UTF-8")
	errCmdTooManyAr = errors.New("too many arguments in the command line")
)

// maxArgs bounds the argument count (each argument allocates).
const maxArgs = 512

// splitCommandLine splits a command line the way a POSIX shell splits
// words: ASCII blanks separate (not a full-width space in a Japanese
// name, which the client's own shell left inside its word), '…' is literal, "…" honours \" and \\,
// a backslash outside quotes escapes the next character, and "" is an
// empty argument. One pass, linear in the length (the library's splitter
// re-allocates the token for every rune and was called three times).
func splitCommandLine(line string) ([]string, error) {
	if len(line) > MaxCommandLine {
		return nil, errCmdTooLong
	}
	if !utf8.ValidString(line) {
		return nil, errCmdNotUTF8
	}
	var (
		args  []string
		tok   strings.Builder
		inTok bool // a token has started (possibly empty: "")
	)
	flush := func() error {
		if inTok {
			if len(args) == maxArgs {
				return errCmdTooManyAr
			}
			args = append(args, tok.String())
			tok.Reset()
			inTok = false
		}
		return nil
	}
	for i := 0; i < len(line); {
		r, w := utf8.DecodeRuneInString(line[i:])
		i += w
		switch {
		case r == ' ', r == '\t', r == '\n', r == '\r', r == '\v', r == '\f':
			if err := flush(); err != nil {
				return nil, err
			}
		case r == '\\':
			if i >= len(line) {
				return nil, errCmdTrailing
			}
			r2, w2 := utf8.DecodeRuneInString(line[i:])
			i += w2
			tok.WriteRune(r2)
			inTok = true
		case r == '\'':
			j := strings.IndexByte(line[i:], '\'')
			if j < 0 {
				return nil, errCmdUnclosed
			}
			tok.WriteString(line[i : i+j])
			i += j + 1
			inTok = true
		case r == '"':
			inTok = true
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '"' {
					i++
					closed = true
					break
				}
				if c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					tok.WriteByte(line[i+1])
					i += 2
					continue
				}
				tok.WriteByte(c)
				i++
			}
			if !closed {
				return nil, errCmdUnclosed
			}
		default:
			tok.WriteRune(r)
			inTok = true
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return args, nil
}

// parsedSession is a session whose command line was split once (the
// embedded session's Command() would split it again on every call) and
// whose window changes come from drainResizes.
type parsedSession struct {
	ssh.Session
	args  []string
	winch <-chan ssh.Window
}

func (p parsedSession) Command() []string { return p.args }

func (p parsedSession) Pty() (ssh.Pty, <-chan ssh.Window, bool) {
	pty, _, ok := p.Session.Pty()
	return pty, p.winch, ok
}

// drainResizes takes a pty session's window changes from the SSH library
// as they come, for as long as the channel lives, and returns the latest
// one not yet read (older ones are dropped). The library hands each to a
// one-slot channel and waits until it is taken; only the console reads
// them, so for a command, a refused console or after the console, a
// client sending two resizes would otherwise hold the session's request
// goroutine (and the session) for ever. A flood of resizes also costs the
// console one redraw per read, not one per resize.
func drainResizes(sess ssh.Session) <-chan ssh.Window {
	_, lib, ok := sess.Pty()
	if !ok {
		return nil
	}
	// Never closed: a reader of a closed channel would spin on zero
	// sizes; readers stop with the session's context.
	latest := make(chan ssh.Window, 1)
	go func() {
		for w := range lib { // closed by the library when the channel ends
			select {
			case latest <- w:
			default:
				select {
				case <-latest: // drop the older size
				default:
				}
				latest <- w
			}
		}
	}()
	return latest
}

// commandLineMiddleware runs first: a command line that is too long or
// cannot be split is refused here, before the key is looked up, the
// session counted or anything ledgered. Everything after it sees the
// already-split arguments.
func (s *Server) commandLineMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		raw := sess.RawCommand()
		winch := drainResizes(sess)
		if raw == "" {
			next(parsedSession{Session: sess, winch: winch})
			return
		}
		args, err := splitCommandLine(raw)
		if err != nil {
			s.log.Debug("command refused", "remote", sess.RemoteAddr().String(), "bytes", len(raw), "err", err)
			fmt.Fprintf(sess.Stderr(), "mimamori: %v; refused\n", err)
			_ = sess.Exit(ExitUsage)
			return
		}
		next(parsedSession{Session: sess, args: args, winch: winch})
	}
}
