package sshd

import (
	"slices"
	"sync/atomic"
)

// Stats is what the Prometheus endpoint reads from the console server.
// It never blocks on I/O.
type Stats struct {
	Sessions        int               // open SSH sessions (channels of authenticated connections)
	Connections     int               // open TCP connections, authenticated or not
	Unauthenticated int               // of which not yet authenticated
	Channels        int               // open channels (sessions with or without a command, forwards)
	Refusals        map[string]uint64 // by reason (RefusalReasons), since start
}

// Reasons the console refuses someone, counted for metrics. A fixed set,
// so a metric label stays bounded whatever a client sends.
const (
	RefusedRate        = "rate"         // new connections from one address too fast
	RefusedCertificate = "certificate"  // an SSH certificate (no CA is trusted)
	RefusedNotEnrolled = "not-enrolled" // a key nobody enrolled (counted per key offered)
	RefusedKeyPolicy   = "key-policy"   // an enrolled key the algorithm policy no longer accepts
	RefusedConnCap     = "connections"  // per-key or total connection cap
	RefusedSessionCap  = "sessions"     // per-key or total session cap
	RefusedSessionRate = "session-rate" // one key opening sessions too fast
	RefusedKeyMismatch = "key-mismatch" // session key differs from the authenticated one, or is gone
	RefusedChannelCap  = "channels"     // per-connection, per-key or total channel cap
)

var refusalReasons = [...]string{RefusedRate, RefusedCertificate, RefusedNotEnrolled, RefusedKeyPolicy,
	RefusedConnCap, RefusedSessionCap, RefusedSessionRate, RefusedKeyMismatch, RefusedChannelCap}

// RefusalReasons lists every reason Stats counts.
func RefusalReasons() []string { return slices.Clone(refusalReasons[:]) }

// refusalCounter counts refusals by reason without a lock.
type refusalCounter struct {
	n [len(refusalReasons)]atomic.Uint64
}

func (r *refusalCounter) add(reason string) {
	for i, rr := range refusalReasons {
		if rr == reason {
			r.n[i].Add(1)
			return
		}
	}
}

func (r *refusalCounter) snapshot() map[string]uint64 {
	out := make(map[string]uint64, len(refusalReasons))
	for i, rr := range refusalReasons {
		out[rr] = r.n[i].Load()
	}
	return out
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	unauth, auth := s.conns.counts()
	return Stats{Sessions: s.reg.count(), Connections: unauth + auth, Unauthenticated: unauth,
		Channels: s.conns.channels(), Refusals: s.refusals.snapshot()}
}
