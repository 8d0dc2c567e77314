package sshd

import (
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// liveSession is one open SSH session (a channel, not a connection: one
// connection may carry several).
type liveSession struct {
	id      string
	actor   core.Actor
	remote  string
	conn    *gossh.ServerConn // nil only in unit tests
	started time.Time

	mu       sync.Mutex
	program  *tea.Program // set once the TUI starts; nil for commands
	quitting bool
	reason   string // why the server ended it, for the logout entry
}

func (l *liveSession) setProgram(p *tea.Program) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.program = p
	if l.quitting {
		go p.Quit() // Quit blocks until Run reads it (or the program is killed)
	}
}

// quit asks a TUI to end itself (it restores the client's terminal).
// Commands are short and are left to finish.
func (l *liveSession) quit(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.quitting = true
	if l.reason == "" {
		l.reason = reason
	}
	if l.program != nil {
		go l.program.Quit()
	}
}

// kill drops the whole SSH connection: a revoked key must not keep any
// channel of it open.
func (l *liveSession) kill(reason string) {
	l.mu.Lock()
	if l.reason == "" {
		l.reason = reason
	}
	l.mu.Unlock()
	if l.conn != nil {
		_ = l.conn.Close()
	}
}

func (l *liveSession) endReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

// registry holds the open sessions by key fingerprint. Entries are added
// when a session starts and removed when it ends, so it never grows past
// the open sessions.
type registry struct {
	mu      sync.Mutex
	byFP    map[string]map[*liveSession]struct{}
	n       int
	emptied chan struct{} // closed and replaced whenever n drops to 0
}

func newRegistry() *registry {
	return &registry{byFP: map[string]map[*liveSession]struct{}{}, emptied: make(chan struct{})}
}

// sessionLimits are the session caps (see Options).
type sessionLimits struct {
	total, perKey, managerReserve int
}

// add registers l unless that would exceed the caps: lim.total sessions
// in all (lim.total - lim.managerReserve for anyone but a manager) and
// lim.perKey for l's key. A zero field is no cap.
func (r *registry) add(l *liveSession, lim sessionLimits, manager bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byFP[l.actor.Fingerprint]
	if lim.perKey > 0 && len(set) >= lim.perKey {
		return errKeySession
	}
	total := lim.total
	if !manager {
		total -= lim.managerReserve
	}
	if lim.total > 0 && r.n >= total {
		return errSessions
	}
	if set == nil {
		set = map[*liveSession]struct{}{}
		r.byFP[l.actor.Fingerprint] = set
	}
	set[l] = struct{}{}
	r.n++
	return nil
}

func (r *registry) remove(l *liveSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byFP[l.actor.Fingerprint]
	if _, ok := set[l]; !ok {
		return
	}
	delete(set, l)
	if len(set) == 0 {
		delete(r.byFP, l.actor.Fingerprint)
	}
	r.n--
	if r.n == 0 {
		close(r.emptied)
		r.emptied = make(chan struct{})
	}
}

func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// emptyCh returns a channel that is closed once no session is open
// (already closed if none is).
func (r *registry) emptyCh() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return r.emptied
}

// fingerprints returns each fingerprint with an open session and the role
// its sessions were opened with.
func (r *registry) fingerprints() map[string]core.Role {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]core.Role, len(r.byFP))
	for fp, set := range r.byFP {
		for l := range set {
			out[fp] = l.actor.Role
			break
		}
	}
	return out
}

// sessions returns the open sessions of fp, or all of them if fp is "".
func (r *registry) sessions(fp string) []*liveSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*liveSession
	for f, set := range r.byFP {
		if fp != "" && f != fp {
			continue
		}
		for l := range set {
			out = append(out, l)
		}
	}
	return out
}
