package playback

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mimamori/core"
	"mimamori/recorder/clip"
)

// Grant, File and Ticket are core's playback contract (core.ViewGrant
// and friends), so sshd and the console need not import this package.
type (
	Grant  = core.ViewGrant
	File   = core.ViewFile
	Ticket = core.ViewTicket
)

// ticket is the server's side of a token.
type ticket struct {
	key     [32]byte
	g       Grant
	expires time.Time
	pieces  []clip.Piece // the plan, fixed at mint so sizes stay stable across range requests
	done    chan struct{}
	timer   *time.Timer

	inflight sync.WaitGroup
	bytes    atomic.Int64
	mu       sync.Mutex
	started  time.Time // first request began
	lastEnd  time.Time // last request ended
	ended    time.Time // token ended
	reason   string
}

// Mint checks with core that g.Actor may view (core ledgers the
// authorization or the refusal), plans the range, and returns a new token.
// Errors wrap core.ErrForbidden, clip.ErrNoFootage, ErrNoLive or ErrClosed.
func (s *Server) Mint(g Grant) (Ticket, error) {
	if g.SessionID == "" || g.Origin == "" {
		return Ticket{}, fmt.Errorf("%w: a token needs a session and an origin", ErrInvalid)
	}
	v := &g.View
	if v.Live && s.o.Live == nil {
		return Ticket{}, ErrNoLive
	}
	if v.Live {
		v.From, v.To = time.Time{}, time.Time{}
	} else {
		v.From, v.To = v.From.UTC(), v.To.UTC()
	}
	if err := s.o.Core.AuthorizeView(g.Actor, *v); err != nil {
		return Ticket{}, err
	}
	var pieces []clip.Piece
	if !v.Live {
		var err error
		planner := clip.Plan
		if core.ScopeOf(g.Actor.Role).GrantOnly {
			planner = clip.PlanWithin // exactly the granted range, never beyond
		}
		if pieces, err = planner(s.o.Footage, v.Camera, v.From, v.To); err != nil {
			if errors.Is(err, clip.ErrNoFootage) {
				err = fmt.Errorf("%w: %w", core.ErrNoFootage, err)
			}
			return Ticket{}, err
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Ticket{}, fmt.Errorf("playback: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.o.Now().UTC()
	exp := now.Add(s.o.MaxTTL)
	if !g.Expires.IsZero() && g.Expires.Before(exp) {
		exp = g.Expires.UTC()
	}
	// A link ends with its key (a viewer's grant), whoever asked for it:
	// the SSH view command and the console alike.
	if kl, ok := s.o.Core.(keyLookup); ok {
		if k, err := kl.LookupKey(g.Actor.Fingerprint); err == nil && !k.ExpiresAt.IsZero() && k.ExpiresAt.Before(exp) {
			exp = k.ExpiresAt.UTC()
		}
	}
	if !exp.After(now) {
		return Ticket{}, fmt.Errorf("%w: already expired", ErrInvalid)
	}
	t := &ticket{key: tokenKey(token), g: g, expires: exp, pieces: pieces, done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Ticket{}, ErrClosed
	}
	s.tickets[t.key] = t
	// Expiry by timer too, so a stream in progress is cut and the viewing
	// ledgered even if no further request comes.
	t.timer = time.AfterFunc(exp.Sub(now), func() { s.revoke(t, "expired") })
	s.mu.Unlock()

	out := Ticket{Token: token, Expires: exp}
	if v.Live {
		out.Files = []File{{Path: "/v/" + token + "/live.mp4"}}
	}
	for i, p := range pieces {
		out.Files = append(out.Files, File{Path: "/v/" + token + "/" + recordingName(i), Start: p.Start(), End: p.End(), Size: p.Size()})
	}
	s.log.Info("token minted", "actor", g.Actor.Name, "camera", v.Camera, "live", v.Live, "session", g.SessionID,
		"files", len(out.Files), "expires", exp)
	return out, nil
}

// recordingName is the file name of piece i: recording.mp4, recording-2.mp4, ...
func recordingName(i int) string {
	if i == 0 {
		return "recording.mp4"
	}
	return "recording-" + strconv.Itoa(i+1) + ".mp4"
}

// tokenKey is what tokens are looked up by: a hash, so map lookups reveal
// nothing about the tokens' bytes through timing.
func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// Revoke ends a token now (the viewing is ledgered). Unknown tokens are
// ignored.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	t := s.tickets[tokenKey(token)]
	s.mu.Unlock()
	if t != nil {
		s.revoke(t, "revoked")
	}
}

// EndSession ends every token of an SSH session; sshd calls it when the
// session ends (logout).
func (s *Server) EndSession(sessionID string) {
	s.endWhere(func(t *ticket) bool { return t.g.SessionID == sessionID }, "session ended")
}

// EndOrigin ends every token of an SSH connection (it closed).
func (s *Server) EndOrigin(origin string) {
	s.endWhere(func(t *ticket) bool { return t.g.Origin == origin }, "connection closed")
}

func (s *Server) endWhere(match func(*ticket) bool, reason string) {
	s.mu.Lock()
	var hit []*ticket
	for _, t := range s.tickets {
		if match(t) {
			hit = append(hit, t)
		}
	}
	s.mu.Unlock()
	for _, t := range hit {
		s.revoke(t, reason)
	}
}

// Tokens is the number of live tokens.
func (s *Server) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tickets)
}

// revoke removes t, cuts its streams and, once its requests have
// returned, ledgers the viewing (if anything was requested).
func (s *Server) revoke(t *ticket, reason string) {
	s.mu.Lock()
	if s.tickets[t.key] != t {
		s.mu.Unlock()
		return // already ended
	}
	delete(s.tickets, t.key)
	t.timer.Stop()
	close(t.done)
	s.wg.Add(1) // under mu, so Close's Wait sees it
	s.mu.Unlock()

	t.mu.Lock()
	t.ended, t.reason = s.o.Now().UTC(), reason
	t.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t.inflight.Wait()
		s.ledger(t)
	}()
}

func (s *Server) ledger(t *ticket) {
	t.mu.Lock()
	started, ended, reason := t.started, t.ended, t.reason
	if !t.lastEnd.IsZero() {
		ended = t.lastEnd // the viewing ended with its last request, not with the token
	}
	t.mu.Unlock()
	if started.IsZero() {
		s.log.Info("token ended unused", "actor", t.g.Actor.Name, "camera", t.g.View.Camera, "reason", reason)
		return
	}
	if ended.Before(started) {
		ended = started // a clock stepped back; never record a negative viewing
	}
	tv := t.g.View
	v := core.ViewRecord{Camera: tv.Camera, Live: tv.Live, Started: started, Ended: ended,
		Bytes: t.bytes.Load(), SessionID: t.g.SessionID, Request: tv.Request, Reason: tv.Reason}
	if !tv.Live {
		v.From, v.To = tv.From, tv.To
	}
	if err := s.o.Core.RecordViewing(t.g.Actor, v); err != nil {
		s.log.Error("cannot ledger viewing", "actor", t.g.Actor.Name, "camera", tv.Camera, "bytes", v.Bytes, "err", err)
		return
	}
	s.log.Info("viewing ended", "actor", t.g.Actor.Name, "camera", tv.Camera, "live", tv.Live,
		"bytes", v.Bytes, "seconds", ended.Sub(started).Seconds(), "reason", reason)
}

// acquire finds the ticket for token as seen through origin and counts a
// request in flight; the caller must call release. The reason is for the
// log only: the client gets a bare 403 whatever it is.
func (s *Server) acquire(token, origin string) (*ticket, string) {
	s.mu.Lock()
	t := s.tickets[tokenKey(token)]
	switch {
	case t == nil:
		s.mu.Unlock()
		return nil, "unknown or ended token"
	case t.g.Origin != origin:
		s.mu.Unlock()
		return nil, "token of another SSH connection"
	case !s.o.Now().Before(t.expires):
		s.mu.Unlock()
		s.revoke(t, "expired") // the clock got there before the timer
		return nil, "token expired"
	}
	t.inflight.Add(1)
	s.mu.Unlock()
	t.mu.Lock()
	if t.started.IsZero() {
		t.started = s.o.Now().UTC()
	}
	t.mu.Unlock()
	return t, ""
}

// release ends a request of t.
func (s *Server) release(t *ticket) {
	t.mu.Lock()
	t.lastEnd = s.o.Now().UTC()
	t.mu.Unlock()
	t.inflight.Done()
}

// Done returns a channel closed when token ends (at once if it is unknown
// or already ended).
func (s *Server) Done(token string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tickets[tokenKey(token)]; t != nil {
		return t.done
	}
	c := make(chan struct{})
	close(c)
	return c
}
