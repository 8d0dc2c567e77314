package simcam

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"
)

const (
	clockRate   = 90000
	payloadType = 96
	// startStride staggers cameras through the clip; not a multiple of the
	// GOP so cameras do not all send their IDR on the same tick.
	startStride = 47
)

// packetAU is one access unit already split into RTP payloads, shared
// read-only by every camera sending the same variant.
type packetAU struct {
	pts      int64 // 90 kHz, from the clip start
	idr      bool
	payloads [][]byte // the last one carries the marker bit
}

// variant is what one camera sends in a loop.
type variant struct {
	aus     []AccessUnit
	packets []packetAU
	loopDur int64 // 90 kHz
	params  [][]byte
}

// camera is the sending state of one path; only the pacer goroutine touches
// it after Start, except players which handlers update.
type camera struct {
	index  int
	stream *gortsplib.ServerStream
	media  *description.Media
	v      *variant
	fault  Fault

	players atomic.Int32
	offline atomic.Bool // SetOffline

	pos      int   // next AU in v
	loop     int64 // completed loops
	seq      uint16
	tsBase   uint32
	tsAdjust int64 // BackwardsTimestamps offset, 90 kHz
	sentIDR  bool
	rng      *rand.Rand
	garbage  []byte
	pkt      rtp.Packet
	sent     uint64    // packets numbered so far (DropPacketEvery)
	idrs     int       // IDRs sent (SSRCChangeEvery)
	lapse    time.Time // FrameInterval: when the first picture was due
	lapsed   int64     // FrameInterval: pictures sent

	src sources // SSRCChangeEvery: the SSRCs the connections write
}

func makeVariant(codec string, bitrate int64, f Fault) (*variant, error) {
	aus, err := Stream(codec, bitrate)
	if err != nil {
		return nil, err
	}
	k := kindsFor(codec)
	if f.BitrateFactor > 1 {
		base := bitrate
		if base == 0 {
			base = nativeBitrate(aus)
		}
		if aus, err = Stream(codec, base*int64(f.BitrateFactor)); err != nil {
			return nil, err
		}
	}
	v := &variant{aus: aus}
	for _, n := range aus[0].NALUs {
		if k.isParam(n) {
			v.params = append(v.params, n)
		}
	}
	if f.NoSPS {
		v.params = nil
		for i := range aus {
			kept := aus[i].NALUs[:0:0]
			for _, n := range aus[i].NALUs {
				if !k.isParam(n) {
					kept = append(kept, n)
				}
			}
			aus[i].NALUs = kept
		}
	}
	if f.HugeNALU > 0 {
		huge := fillerNALU(k.fillerHeader, max(f.HugeNALU, len(k.fillerHeader)+1))
		idr := 0
		for i := range aus {
			if !aus[i].IDR {
				continue
			}
			if f.HugeNALUEvery <= 1 || (idr > 0 && idr%f.HugeNALUEvery == 0) {
				aus[i].NALUs = append(aus[i].NALUs, huge)
			}
			idr++
		}
	}

	encode, err := newEncoder(codec)
	if err != nil {
		return nil, err
	}
	v.packets = make([]packetAU, len(aus))
	for i, au := range aus {
		pkts, err := encode(au.NALUs)
		if err != nil {
			return nil, err
		}
		p := packetAU{pts: durTo90k(au.PTS), idr: au.IDR, payloads: make([][]byte, len(pkts))}
		for j, pkt := range pkts {
			p.payloads[j] = pkt.Payload
		}
		v.packets[i] = p
	}
	v.loopDur = durTo90k(time.Duration(len(aus)) * FrameDuration)
	return v, nil
}

func newEncoder(codec string) (func([][]byte) ([]*rtp.Packet, error), error) {
	if codec == CodecH265 {
		e := &rtph265.Encoder{PayloadType: payloadType}
		if err := e.Init(); err != nil {
			return nil, err
		}
		return e.Encode, nil
	}
	e := &rtph264.Encoder{PayloadType: payloadType, PacketizationMode: 1}
	if err := e.Init(); err != nil {
		return nil, err
	}
	return e.Encode, nil
}

func durTo90k(d time.Duration) int64 { return int64(d) * clockRate / int64(time.Second) }

// sdpFormat announces the variant's codec and parameter sets.
func sdpFormat(codec string, params [][]byte) format.Format {
	find := func(typ func([]byte) byte, t byte) []byte {
		for _, p := range params {
			if typ(p) == t {
				return p
			}
		}
		return nil
	}
	if codec == CodecH265 {
		return &format.H265{
			PayloadTyp: payloadType,
			VPS:        find(h265Type, 32),
			SPS:        find(h265Type, 33),
			PPS:        find(h265Type, 34),
		}
	}
	return &format.H264{
		PayloadTyp:        payloadType,
		PacketizationMode: 1,
		SPS:               find(h264Type, 7),
		PPS:               find(h264Type, 8),
	}
}

// send writes the camera's next access unit with NTP time ntp.
func (c *camera) send(ntp time.Time) {
	if c.fault.FrameInterval > 0 {
		c.sendLapse(ntp)
		return
	}
	au := &c.v.packets[c.pos]
	if c.fault.BackwardsTimestamps && au.idr {
		if c.sentIDR {
			c.tsAdjust -= durTo90k(BackwardsStep)
		}
		c.sentIDR = true
	}
	if c.fault.SSRCChangeEvery > 0 && au.idr {
		if c.idrs > 0 && c.idrs%c.fault.SSRCChangeEvery == 0 {
			c.restartSource()
		}
		c.idrs++
	}
	ts := c.tsBase + uint32(c.loop*c.v.loopDur+au.pts+c.tsAdjust)

	c.pos++
	if c.pos == len(c.v.packets) {
		c.pos = 0
		c.loop++
	}

	// Nobody is watching: skip the packetisation cost, as a camera's
	// encoder output would simply be dropped.
	if c.players.Load() == 0 {
		return
	}

	if c.fault.GarbageRTP {
		n := 1 + c.rng.IntN(4)
		for i := 0; i < n; i++ {
			l := 1 + c.rng.IntN(len(c.garbage))
			for j := 0; j < l; j++ {
				c.garbage[j] = byte(c.rng.Uint32())
			}
			c.write(c.garbage[:l], ts, i == n-1, ntp)
		}
		return
	}
	last := len(au.payloads) - 1
	for i, p := range au.payloads {
		c.write(p, ts, i == last, ntp)
	}
}

// sendLapse is send for a time-lapse camera (Fault.FrameInterval): the
// clip's next keyframe, once every FrameInterval.
func (c *camera) sendLapse(ntp time.Time) {
	if c.lapse.IsZero() {
		c.lapse = ntp
	}
	due := c.lapse.Add(time.Duration(c.lapsed) * c.fault.FrameInterval)
	if ntp.Before(due) {
		return
	}
	c.lapsed++
	for i := 0; i < len(c.v.packets); i++ {
		c.pos = (c.pos + 1) % len(c.v.packets)
		if c.v.packets[c.pos].idr {
			break
		}
	}
	au := &c.v.packets[c.pos]
	if c.players.Load() == 0 {
		return
	}
	ts := c.tsBase + uint32(durTo90k(ntp.Sub(c.lapse)))
	last := len(au.payloads) - 1
	for i, p := range au.payloads {
		c.write(p, ts, i == last, ntp)
	}
}

// restartSource starts a new RTP source: new SSRC and timestamp base, and a
// sequence number far from the old one, so that packets still queued for a
// connection are told apart from the new source's (sources.ssrcFor).
func (c *camera) restartSource() {
	c.seq += 0x4000 + uint16(c.rng.IntN(0x4000))
	c.tsBase = c.rng.Uint32()
	c.src.start(c.seq, c.rng.Uint32()|1)
}

func (c *camera) write(payload []byte, ts uint32, marker bool, ntp time.Time) {
	c.sent++
	if n := c.fault.DropPacketEvery; n > 0 && c.sent%uint64(n) == 0 {
		c.seq++ // lost on the way
		return
	}
	c.pkt.Header = rtp.Header{
		Version:        2,
		PayloadType:    payloadType,
		SequenceNumber: c.seq,
		Timestamp:      ts,
		Marker:         marker,
	}
	c.pkt.Payload = payload
	c.seq++
	// Errors only mean the stream is closing; the pacer stops on its own.
	_ = c.stream.WritePacketRTPWithNTP(c.media, &c.pkt, ntp)
}
