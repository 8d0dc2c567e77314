package sshd

// Stats is what the Prometheus endpoint reads from the console server.
// It never blocks on I/O.
type Stats struct {
	Sessions    int   // open SSH sessions (channels of authenticated connections)
	Connections int64 // open TCP connections, authenticated or not
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	unauth, auth := s.conns.counts()
	return Stats{Sessions: s.reg.count(), Connections: int64(unauth + auth)}
}
