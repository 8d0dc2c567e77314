package simcam

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
)

// sources remembers a camera's RTP source restarts (Fault.SSRCChangeEvery):
// the current and the previous SSRC with the first sequence number of each.
// The pacer starts sources; connection writers look them up.
type sources struct {
	mu       sync.Mutex
	cur      source
	prev     source
	restarts int
}

type source struct {
	firstSeq uint16
	ssrc     uint32
	set      bool
}

func (s *sources) start(firstSeq uint16, ssrc uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prev, s.cur = s.cur, source{firstSeq: firstSeq, ssrc: ssrc, set: true}
	s.restarts++
}

// ssrcFor is the SSRC of the packet with sequence number seq, or false for
// the stream's own SSRC (no restart yet). restartSource puts at least
// 0x4000 between sources, and a connection's queue holds far fewer
// packets, so a packet is the current source's when it is less than 0x4000
// past its first sequence number.
func (s *sources) ssrcFor(seq uint16) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.cur.set:
		return 0, false
	case seq-s.cur.firstSeq < 0x4000:
		return s.cur.ssrc, true
	case s.prev.set:
		return s.prev.ssrc, true
	}
	return 0, false
}

// sourceConn is an accepted RTSP connection that writes the SSRC of the
// camera's current source into the RTP packets it sends interleaved
// (gortsplib's server writes one whole frame per Write call).
type sourceConn struct {
	net.Conn
	cam atomic.Pointer[camera] // set when the connection plays a camera with restarts
}

func (c *sourceConn) Write(p []byte) (int, error) {
	// '$', channel (even: RTP), length, then the RTP header: SSRC at 8..11.
	if cam := c.cam.Load(); cam != nil && len(p) >= 16 && p[0] == '$' && p[1]%2 == 0 {
		if ssrc, ok := cam.src.ssrcFor(binary.BigEndian.Uint16(p[6:8])); ok {
			binary.BigEndian.PutUint32(p[12:16], ssrc)
		}
	}
	return c.Conn.Write(p)
}

// sourceListener wraps every accepted connection in a sourceConn.
type sourceListener struct{ net.Listener }

func (l sourceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sourceConn{Conn: c}, nil
}

// Restarts is how many times camera i (from 1) restarted its RTP source
// (Fault.SSRCChangeEvery).
func (s *Server) Restarts(i int) int {
	if i < 1 || i > len(s.cameras) {
		return 0
	}
	c := s.cameras[i-1]
	c.src.mu.Lock()
	defer c.src.mu.Unlock()
	return c.src.restarts
}
