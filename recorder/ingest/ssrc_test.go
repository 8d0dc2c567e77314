package ingest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/conn"
	"github.com/pion/rtp"
)

// chunkConn is a net.Conn whose Read returns the stream in random pieces.
type chunkConn struct {
	net.Conn
	r   *bytes.Reader
	rng *rand.Rand
}

func (c *chunkConn) Read(p []byte) (int, error) {
	n := 1 + c.rng.IntN(min(len(p), 3000))
	return c.r.Read(p[:min(n, len(p))])
}

func rtpFrame(tb testing.TB, ch byte, ssrc uint32, seq uint16, payload int) []byte {
	tb.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 1000, SSRC: ssrc},
		Payload: bytes.Repeat([]byte{0x41}, payload)}
	b, err := p.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return append([]byte{'$', ch, byte(len(b) >> 8), byte(len(b))}, b...)
}

// TestSourceConnFollowsSSRC feeds an interleaved RTSP stream in random
// pieces through sourceConn: RTSP messages (one with a body that looks
// like a frame), RTCP, a stray byte, and RTP whose source restarts twice.
// gortsplib's own reader must read it back with one SSRC and continuous
// sequence numbers, and the restarts must be noted at the right packets.
func TestSourceConnFollowsSSRC(t *testing.T) {
	var in bytes.Buffer
	body := "$\x00\x00\x10not a frame at all"
	in.WriteString("RTSP/1.0 200 OK\r\nCSeq: 1\r\ncontent-length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	type want struct {
		seq  uint16
		size int
	}
	var wants []want
	seq := uint16(65530)
	for i := 0; i < 30; i++ {
		ssrc := uint32(0x1111)
		if i >= 10 {
			ssrc = 0x2222
		}
		if i >= 20 {
			ssrc = 0x3333
		}
		s := seq + uint16(i)
		if i >= 10 {
			s = 4000 + uint16(i) // the new source numbers afresh
		}
		if i >= 20 {
			s = 9 + uint16(i)
		}
		size := 10 + i*397 // up to 11.5 KB: some pass straight through
		in.Write(rtpFrame(t, 0, ssrc, s, size))
		wants = append(wants, want{seq: seq + uint16(i), size: size})
		if i == 5 {
			in.Write([]byte{'$', 1, 0, 8, 0x80, 200, 0, 1, 0, 0, 0x11, 0x11}) // RTCP
			in.WriteByte('x')                                                 // garbage gortsplib skips
			in.WriteString("GET_PARAMETER rtsp://x/ RTSP/1.0\r\nCSeq: 2\r\n\r\n")
		}
	}
	for trial := 0; trial < 50; trial++ {
		changes := &sourceChanges{}
		sc := newSourceConn(&chunkConn{r: bytes.NewReader(in.Bytes()), rng: rand.New(rand.NewPCG(uint64(trial), 1))}, changes)
		rc := conn.NewConn(sc)
		var got []*rtp.Packet
		msgs := 0
		for {
			v, err := rc.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("trial %d: gortsplib reader: %v", trial, err)
			}
			switch x := v.(type) {
			case *base.InterleavedFrame:
				if x.Channel == 0 {
					var p rtp.Packet
					if err := p.Unmarshal(x.Payload); err != nil {
						t.Fatal(err)
					}
					got = append(got, &p)
				}
			case *base.Response:
				if string(x.Body) != body {
					t.Fatalf("response body %q", x.Body)
				}
				msgs++
			case *base.Request:
				msgs++
			}
		}
		if len(got) != len(wants) || msgs != 2 {
			t.Fatalf("trial %d: %d packets, %d messages", trial, len(got), msgs)
		}
		for i, p := range got {
			if p.SSRC != 0x1111 || p.SequenceNumber != wants[i].seq || len(p.Payload) != wants[i].size {
				t.Fatalf("trial %d packet %d: ssrc %x seq %d len %d, want 1111 %d %d", trial, i, p.SSRC,
					p.SequenceNumber, len(p.Payload), wants[i].seq, wants[i].size)
			}
		}
		for _, i := range []int{10, 20} {
			ch, ok := changes.at(wants[i].seq)
			if !ok || ch.from != uint32(0x1111*(i/10)) || ch.to != uint32(0x1111*(i/10+1)) {
				t.Fatalf("trial %d: change at packet %d: %+v %v", trial, i, ch, ok)
			}
		}
	}
}

// The packet where a new source began may never reach the packet handler
// (gortsplib refuses a malformed one). The change is then taken at the
// next packet after it, and later changes are still seen: a note the
// handler missed must not block the queue.
func TestSourceChangeTakenAfterAMissedPacket(t *testing.T) {
	var q sourceChanges
	q.add(sourceChange{seq: 100, from: 1, to: 2})
	q.add(sourceChange{seq: 200, from: 2, to: 3})
	if _, ok := q.at(99); ok {
		t.Fatal("a change reported before it began")
	}
	ch, ok := q.at(101) // 100 never came
	if !ok || ch.to != 2 {
		t.Fatalf("change at 100 not taken at 101: %v %v", ch, ok)
	}
	if _, ok := q.at(150); ok {
		t.Fatal("the same change reported twice")
	}
	if ch, ok := q.at(200); !ok || ch.to != 3 {
		t.Fatalf("the next change is lost behind the missed one: %v %v", ch, ok)
	}
	// Across the 16-bit wrap.
	q.add(sourceChange{seq: 65534, from: 3, to: 4})
	if ch, ok := q.at(2); !ok || ch.to != 4 {
		t.Fatalf("change at 65534 not taken at 2: %v %v", ch, ok)
	}
}
