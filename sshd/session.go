package sshd

import (
	"fmt"
	"strconv"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	bm "github.com/charmbracelet/wish/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// healthLoginWait is how long `health` waits for its login entry before
// answering anyway (it must answer within 2 s on a stalled disk).
const healthLoginWait = time.Second

// sessionMiddleware registers the session (cap, revocation), writes the
// login and logout ledger entries and runs the TUI or the command.
func (s *Server) sessionMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		defer next(sess)
		info, ok := InfoFromContext(sess.Context())
		if !ok {
			wish.Fatalln(sess, "mimamori: not authenticated")
			return
		}
		if s.isClosing() {
			wish.Fatalln(sess, "mimamori: the appliance is shutting down")
			return
		}
		conn, _ := sess.Context().Value(ssh.ContextKeyConn).(*gossh.ServerConn)
		l := &liveSession{
			id:      shortID(info.SessionID) + "-" + strconv.FormatUint(s.seq.Add(1), 10),
			actor:   info.Actor,
			remote:  info.Remote,
			conn:    conn,
			started: s.o.Now().UTC(),
		}
		// One key opening sessions fast (on one connection or many) waits
		// a moment, then is refused; refusals are counted, not ledgered
		// one by one. The rate comes first, so a refused flood never
		// occupies the key's session slots.
		if wait, ok := s.keyRate.reserve(info.Actor.Fingerprint); !ok {
			s.rlog.Warn("session refused: key session rate", "remote", info.Remote)
			s.refusals.add(RefusedSessionRate)
			s.o.Core.RecordRefusal(info.Actor, core.ActionLogin, "session rate")
			wish.Fatalln(sess, "mimamori: this key is opening sessions too fast; wait a moment")
			return
		} else if wait > 0 {
			select {
			case <-time.After(wait):
			case <-sess.Context().Done():
				return
			}
		}
		manager := core.ScopeOf(info.Actor.Role).Reserve
		if err := s.reg.add(l, s.sessionLimits(), manager); err != nil {
			s.rlog.Warn("session refused", "remote", info.Remote, "err", err)
			s.refusals.add(RefusedSessionCap)
			s.o.Core.RecordRefusal(info.Actor, core.ActionLogin, err.Error())
			wish.Fatalln(sess, "mimamori: "+err.Error())
			return
		}
		defer s.reg.remove(l)
		// The key may have been revoked after the handshake and before the
		// registry could see this session; the watcher covers every later
		// revocation.
		if _, err := s.o.Core.LookupKey(info.Actor.Fingerprint); err != nil {
			wish.Fatalln(sess, "mimamori: key not enrolled")
			return
		}
		defer s.logSession(sess)()

		kind, name := "console", ""
		if cmd := sess.Command(); len(cmd) > 0 {
			kind, name = "command", cmd[0]
			if _, known := s.cmds.Lookup(name); !known {
				// Whatever the client sent, bounded: not a way to
				// write kilobytes per login into the ledger.
				name = core.CleanLine(name, 32)
			}
		} else if sub := sess.Subsystem(); sub != "" {
			kind, name = "subsystem", core.CleanLine(sub, 32)
		} else if sess.RawCommand() != "" {
			kind = "command"
		}
		details := map[string]string{"session": l.id, "kind": kind}
		if name != "" {
			details["command"] = name
		}
		// No login without its ledger entry, with one exception: `health`,
		// the technician's diagnosis of a stalled or failing disk, shows no
		// footage and no personal data, so when the ledger cannot commit
		// within healthLoginWait it answers anyway and its login entry is
		// committed once the disk responds; when the ledger cannot be
		// written at all (disk full, EIO) it answers too, and the login is
		// in the process log only — its alerts are how anyone learns what
		// is wrong. A power loss before a slow commit loses that one entry
		// (docs/design.md, "Disk trouble").
		isHealth := kind == "command" && name == "health"
		loginDone := make(chan error, 1)
		go func() { loginDone <- s.recordSession(info.Actor, core.ActionLogin, info.Remote, details) }()
		var lerr error
		pending, unrecorded := false, false
		if isHealth {
			select {
			case lerr = <-loginDone:
			case <-time.After(healthLoginWait):
				pending = true
				info.Logger.Warn("ledger slow; health answered before its login entry was committed")
				fmt.Fprintln(sess.Stderr(), msg(info.Lang, msgLoginPending))
			}
		} else {
			lerr = <-loginDone
		}
		if lerr != nil && isHealth {
			unrecorded = true
			info.Logger.Error("login not in the ledger: it cannot be written; health answered anyway",
				"fingerprint", info.Actor.Fingerprint, "remote", info.Remote, "session", l.id, "err", lerr)
			fmt.Fprintf(sess.Stderr(), msg(info.Lang, msgLoginUnrecorded)+"\n", lerr)
		} else if lerr != nil {
			info.Logger.Error("session refused: cannot record login", "err", lerr)
			wish.Fatalln(sess, "mimamori: login could not be recorded: "+lerr.Error())
			return
		}
		defer func() {
			out := make(map[string]string, len(details)+1)
			for k, v := range details {
				out[k] = v
			}
			if r := l.endReason(); r != "" {
				out["reason"] = r
			}
			if pending {
				out["login_recorded"] = "after the command ran (disk slow)"
			}
			logout := func() {
				if err := s.recordSession(info.Actor, core.ActionLogout, info.Remote, out); err != nil {
					info.Logger.Error("cannot record logout", "err", err)
				}
			}
			if unrecorded {
				out["login_recorded"] = "no (the ledger could not be written; see the process log)"
			}
			if !pending {
				logout()
				return
			}
			// After the login it pairs with, without holding the session.
			go func() {
				if err := <-loginDone; err != nil {
					info.Logger.Error("cannot record login", "err", err)
					return
				}
				logout()
			}()
		}()

		if kind == "command" {
			code := s.runCommand(sess, info, l.id)
			_ = sess.Exit(code)
			return
		}
		if kind == "subsystem" {
			_ = sess.Exit(s.runSubsystem(sess, info, l.id))
			return
		}
		s.runConsole(sess, info, l)
	}
}

// runConsole gives a pty session the TUI.
func (s *Server) runConsole(sess ssh.Session, info Info, l *liveSession) {
	if _, _, ok := sess.Pty(); !ok {
		fmt.Fprintln(sess.Stderr(), msg(info.Lang, msgNeedTerminal))
		_ = sess.Exit(2)
		return
	}
	if s.o.NewProgram == nil {
		fmt.Fprintln(sess.Stderr(), msg(info.Lang, msgNoConsole))
		_ = sess.Exit(1)
		return
	}
	handler := func(sess ssh.Session) *tea.Program {
		p := s.o.NewProgram(sess, info.Actor)
		if p != nil {
			l.setProgram(p)
		}
		return p
	}
	bm.MiddlewareWithProgramHandler(handler, consoleMinProfile)(func(ssh.Session) {})(sess)
}
