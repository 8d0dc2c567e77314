package sshd

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/keys"
)

// extFingerprint is the Permissions extension the key handler fills in.
// ssh copies Permissions from the key the client actually proved, but the
// handler also runs for keys offered and never proved, so the middleware
// compares this with s.PublicKey() (soft-serve's pattern).
const extFingerprint = "mimamori-fingerprint"

// extRole is the enrolled role of that key, for the managers' reserve.
const extRole = "mimamori-role"

// publicKeyHandler answers "is this key enrolled?" and records refusals.
func (s *Server) publicKeyHandler(ctx ssh.Context, pk ssh.PublicKey) bool {
	remote := ""
	if a := ctx.RemoteAddr(); a != nil {
		remote = a.String()
	}
	if _, isCert := pk.(*gossh.Certificate); isCert {
		// No CA is trusted; certificates are not keys anyone enrolled.
		s.rlog.Info("auth refused: certificate", "remote", remote)
		s.refusals.add(RefusedCertificate)
		return false
	}
	fp := keys.Fingerprint(pk)
	actor, err := s.resolver.Resolve(pk)
	if err == nil {
		if ctx.Permissions().Extensions == nil {
			ctx.Permissions().Extensions = map[string]string{}
		}
		ctx.Permissions().Extensions[extFingerprint] = fp
		ctx.Permissions().Extensions[extRole] = actor.Role.String()
		return true
	}
	if !errors.Is(err, keys.ErrUnknownKey) {
		s.rlog.Log(slog.LevelError, "auth refused: key lookup failed", "remote", remote, "fingerprint", fp, "err", err)
		return false
	}
	now := s.o.Now().UTC()
	rerr := s.o.Core.RecordRefusedKey(core.RefusedKey{
		Fingerprint:   fp,
		KeyType:       pk.Type(),
		AuthorizedKey: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pk))),
		RemoteAddr:    remote,
		FirstSeen:     now,
		LastSeen:      now,
		Count:         1,
	})
	if rerr != nil {
		s.rlog.Log(slog.LevelError, "cannot record refused key", "fingerprint", fp, "err", rerr)
	}
	s.rlog.Info("auth refused: key not enrolled", "remote", remote, "fingerprint", fp, "type", pk.Type(), "user", ctx.User())
	s.refusals.add(RefusedNotEnrolled)
	return false
}

type ctxKey int

const ctxKeyInfo ctxKey = iota

// Info is what the SSH layer established about a connection: who it is
// and how to talk to them. It is per connection (all of its sessions).
type Info struct {
	Actor     core.Actor
	SessionID string // the SSH connection's session hash (hex)
	Remote    string
	Lang      string
	Location  *time.Location
	Logger    *slog.Logger
}

// InfoFromContext returns what authMiddleware stored, ok false for a
// context that never passed it.
func InfoFromContext(ctx interface{ Value(any) any }) (Info, bool) {
	i, ok := ctx.Value(ctxKeyInfo).(Info)
	return i, ok
}

// ActorFromContext is InfoFromContext(ctx).Actor.
func ActorFromContext(ctx interface{ Value(any) any }) (core.Actor, bool) {
	i, ok := InfoFromContext(ctx)
	return i.Actor, ok
}

// authMiddleware turns the proven public key into a core.Actor. It looks
// the key up again: it may have been revoked since the handshake.
func (s *Server) authMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		pk := sess.PublicKey()
		if pk == nil {
			wish.Fatalln(sess, "mimamori: public-key authentication required")
			return
		}
		fp := keys.Fingerprint(pk)
		if sess.Permissions().Permissions == nil || sess.Permissions().Extensions[extFingerprint] != fp {
			s.rlog.Warn("session refused: key mismatch", "remote", sess.RemoteAddr().String(), "fingerprint", fp)
			s.refusals.add(RefusedKeyMismatch)
			wish.Fatalln(sess, "mimamori: authentication mismatch")
			return
		}
		actor, err := s.resolver.Resolve(pk)
		if err != nil {
			s.rlog.Warn("session refused: key lookup", "remote", sess.RemoteAddr().String(), "fingerprint", fp, "err", err)
			s.refusals.add(RefusedKeyMismatch)
			wish.Fatalln(sess, "mimamori: key not enrolled")
			return
		}
		sid := sess.Context().SessionID()
		sess.Context().SetValue(ctxKeyInfo, Info{
			Actor:     actor,
			SessionID: sid,
			Remote:    sess.RemoteAddr().String(),
			Lang:      s.o.Lang,
			Location:  s.o.Location,
			Logger:    s.log.With("actor", actor.Name, "role", actor.Role.String(), "session", shortID(sid)),
		})
		next(sess)
	}
}

// logSession logs an admitted session's start and returns what logs its
// end. Only admitted sessions are logged (sessionMiddleware): a refused
// one is one refusal line, coalesced, not a start and an end per attempt
// — one key opening a thousand sessions a second must not write two
// thousand log lines.
func (s *Server) logSession(sess ssh.Session) (end func()) {
	start := time.Now()
	_, _, pty := sess.Pty()
	name := ""
	if cmd := sess.Command(); len(cmd) > 0 {
		name = core.CleanLine(cmd[0], 32)
	}
	s.log.Info("session start", "remote", sess.RemoteAddr().String(), "user", core.CleanLine(sess.User(), 64),
		"session", shortID(sess.Context().SessionID()), "pty", pty, "command", name)
	return func() {
		s.log.Info("session end", "remote", sess.RemoteAddr().String(),
			"session", shortID(sess.Context().SessionID()), "duration", time.Since(start).Round(time.Millisecond).String())
	}
}

func shortID(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
