package ingest

import (
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// discardSink counts bytes and throws them away.
type discardSink struct{ bytes int64 }

func (s *discardSink) WriteInit(string, []byte) (uint32, error) { return 1, nil }
func (s *discardSink) WriteFragment(f Fragment) error {
	s.bytes += int64(f.Len())
	return nil
}

// stream4M is the H.264 clip padded with filler NAL units to 4 Mbit/s at
// 25 fps (20 000 bytes per frame on average, I-frames bigger), packetized.
func stream4M(tb testing.TB) ([][]*rtp.Packet, int) {
	_, aus := loadClip(tb, "testdata/h264_320.ts")
	const perFrame = 4_000_000 / 8 / 25
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	enc, err := f.CreateEncoder()
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]*rtp.Packet
	total := 0
	for i, a := range aus {
		size := 0
		for _, n := range a.nalus {
			size += len(n)
		}
		nal := a.nalus
		if pad := perFrame - size; pad > 2 {
			filler := make([]byte, pad)
			filler[0] = 0x0c
			for j := 1; j < pad-1; j++ {
				filler[j] = 0xff
			}
			filler[pad-1] = 0x80
			nal = append(append([][]byte{}, nal...), filler)
		}
		pkts, err := enc.Encode(nal)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = uint32(a.pts)
			total += len(p.Payload)
		}
		out = append(out, pkts)
		_ = i
	}
	return out, total
}

// BenchmarkPacketToFragment measures RTP packets → access units →
// fragments for one 4 Mbit/s, 25 fps H.264 stream. One op is one access
// unit; cpu-ms/stream-min is the CPU one camera costs per minute.
func BenchmarkPacketToFragment(b *testing.B) {
	frames, total := stream4M(b)
	sink := &discardSink{}
	c := New(Options{Camera: "bench", URL: "rtsp://127.0.0.1/bench", Sink: sink})
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	dec, err := f.CreateDecoder()
	if err != nil {
		b.Fatal(err)
	}
	loopDur := int64(len(frames)) * 3600
	var timer auTimer
	b.SetBytes(int64(total / len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		loop := int64(i / len(frames))
		for _, p := range frames[i%len(frames)] {
			pts := int64(p.Timestamp) + loop*loopDur
			auPTS := timer.packet(p.Timestamp+uint32(loop*loopDur), pts, p.Marker)
			au, err := dec.Decode(p)
			if err != nil {
				continue
			}
			c.writeAU(au, auPTS)
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	// Process CPU (user+sys, GC included), not wall time: the numbers
	// hold on a loaded machine.
	perAU := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perAU*25*60/1e6, "cpu-ms/stream-min")
	if c.st.dropped.Load() != 0 {
		b.Fatalf("dropped %d", c.st.dropped.Load())
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
