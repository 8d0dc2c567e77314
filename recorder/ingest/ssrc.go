package ingest

import (
	"bytes"
	"encoding/binary"
	"net"
	"strconv"
	"sync"
)

// gortsplib v4.16.2 drops every RTP packet whose SSRC differs from the
// first one it saw ("received packet with wrong SSRC"; gortsplib issue
// #687), so a camera that restarts its RTP source would stall until a
// reconnect. Over TCP the packets pass through the connection, so
// sourceConn follows the new source there: it writes the first SSRC into
// every packet and continues the sequence numbers where the old source
// stopped (so neither gortsplib nor loss detection sees a jump), and notes
// the sequence number at which the new source began for the packet
// handler, which starts a new timeline there. Over UDP gortsplib reads
// its own sockets; there the session reconnects at once instead.

// maxRTSPHead bounds an RTSP message head sourceConn buffers while
// looking for its end; past it the stream is passed through untouched.
const maxRTSPHead = 64 << 10

// sourceConn is a client connection that follows RTP source changes in
// the interleaved stream it reads.
type sourceConn struct {
	net.Conn
	changes *sourceChanges

	buf   []byte // bytes read from the connection; buf[r:] not yet returned
	r     int    // start of what is not yet returned
	ready int    // buf[r:ready] is parsed and may be returned
	skip  int    // bytes of the current unit that pass through unparsed
	err   error  // read error, returned once buf is drained
	lost  bool   // lost framing (oversized head): pass everything through

	chans map[byte]*rtpSource // by interleaved channel (even: RTP)
}

// rtpSource is what sourceConn knows of one RTP channel.
type rtpSource struct {
	ssrc    uint32 // SSRC in the packets now
	outSSRC uint32 // SSRC written into every packet (the first one)
	seqOff  uint16 // added to sequence numbers
	lastOut uint16 // last sequence number passed on
}

func newSourceConn(c net.Conn, changes *sourceChanges) *sourceConn {
	return &sourceConn{Conn: c, changes: changes, chans: map[byte]*rtpSource{}}
}

func (c *sourceConn) Read(p []byte) (int, error) {
	for {
		if c.ready > c.r {
			n := copy(p, c.buf[c.r:c.ready])
			c.r += n
			return n, nil
		}
		if c.err != nil {
			if len(c.buf) > c.r { // an incomplete unit before the error
				c.ready = len(c.buf)
				continue
			}
			return 0, c.err
		}
		if c.r == len(c.buf) && (c.skip >= len(p) || c.lost) && len(p) > 0 {
			// The middle of a frame (at least len(p) bytes of it left):
			// straight into p, no copy.
			n, err := c.Conn.Read(p)
			if !c.lost {
				c.skip -= n
			}
			return n, err
		}
		// Keep what is not returned at the front, then read behind it.
		c.buf = c.buf[:copy(c.buf, c.buf[c.r:])]
		c.ready -= c.r
		c.r = 0
		if cap(c.buf)-len(c.buf) < 4096 {
			nb := make([]byte, len(c.buf), max(2*cap(c.buf), 16<<10))
			copy(nb, c.buf)
			c.buf = nb
		}
		n, err := c.Conn.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		c.err = err
		c.parse()
	}
}

// parse advances ready over every complete unit in buf, rewriting RTP
// headers on the way, the way gortsplib's reader splits the stream: '$'
// starts an interleaved frame, "RT" or a method name an RTSP message, any
// other byte is skipped.
func (c *sourceConn) parse() {
	for c.ready < len(c.buf) {
		rest := c.buf[c.ready:]
		if c.lost {
			c.ready = len(c.buf)
			return
		}
		if c.skip > 0 {
			n := min(c.skip, len(rest))
			c.skip -= n
			c.ready += n
			continue
		}
		if rest[0] == '$' {
			if len(rest) < 4 {
				return
			}
			ch, size := rest[1], int(binary.BigEndian.Uint16(rest[2:4]))
			if ch%2 == 0 && size >= 12 {
				if len(rest) < 16 {
					return
				}
				c.rewrite(ch, rest[4:16])
			}
			c.skip = 4 + size
			continue
		}
		if len(rest) < 2 {
			return
		}
		if !rtspStart(rest[0], rest[1]) {
			c.ready++ // gortsplib discards it too
			continue
		}
		end := bytes.Index(rest, []byte("\r\n\r\n"))
		if end < 0 {
			if len(rest) > maxRTSPHead {
				c.lost = true
			}
			return
		}
		c.skip = end + 4 + contentLength(rest[:end])
	}
}

// rtspStart mirrors gortsplib's conn.Read: a response ("RT") or a request.
func rtspStart(a, b byte) bool {
	switch string([]byte{a, b}) {
	case "RT", "AN", "DE", "GE", "OP", "PA", "PL", "RE", "SE", "TE":
		return true
	}
	return false
}

// contentLength reads the Content-Length header of an RTSP head (0 if
// absent or unreadable, as gortsplib reads a body only with it).
func contentLength(head []byte) int {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-Length")) {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	return 0
}

// rewrite makes the RTP header h (12 bytes) continue the channel's first
// source.
func (c *sourceConn) rewrite(ch byte, h []byte) {
	if h[0]>>6 != 2 {
		return // not RTP version 2: gortsplib rejects it anyway
	}
	seq := binary.BigEndian.Uint16(h[2:4])
	ssrc := binary.BigEndian.Uint32(h[8:12])
	s := c.chans[ch]
	switch {
	case s == nil:
		c.chans[ch] = &rtpSource{ssrc: ssrc, outSSRC: ssrc, lastOut: seq}
		return
	case ssrc != s.ssrc:
		s.seqOff = s.lastOut + 1 - seq
		c.changes.add(sourceChange{seq: seq + s.seqOff, from: s.ssrc, to: ssrc})
		s.ssrc = ssrc
	}
	seq += s.seqOff
	s.lastOut = seq
	binary.BigEndian.PutUint16(h[2:4], seq)
	binary.BigEndian.PutUint32(h[8:12], s.outSSRC)
}

// sourceChange is an RTP source restart as the packet handler sees it:
// the packet with sequence number seq (after renumbering) is the new
// source's first.
type sourceChange struct {
	seq      uint16
	from, to uint32
}

// sourceChanges passes restarts from the connection reader (which parses
// ahead) to the packet handler (which meets the packets in order).
type sourceChanges struct {
	mu    sync.Mutex
	queue []sourceChange
}

// maxPendingChanges bounds the queue; a source flapping faster than the
// handler catches up loses the oldest notes (the packets still flow).
const maxPendingChanges = 64

func (s *sourceChanges) add(ch sourceChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == maxPendingChanges {
		s.queue = append(s.queue[:0], s.queue[1:]...)
	}
	s.queue = append(s.queue, ch)
}

// at returns the change that began at sequence number seq or, when the
// handler never saw that packet (gortsplib refused it), at the packet
// before seq; the latest such change if several. The queue never waits
// for a packet that will not come.
func (s *sourceChanges) at(seq uint16) (sourceChange, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ch sourceChange
	n := 0
	for n < len(s.queue) && int16(seq-s.queue[n].seq) >= 0 {
		ch = s.queue[n]
		n++
	}
	if n == 0 {
		return sourceChange{}, false
	}
	s.queue = append(s.queue[:0], s.queue[n:]...)
	return ch, true
}
