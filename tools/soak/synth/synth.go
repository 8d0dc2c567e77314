// Package synth makes the soak's synthetic footage: a real H.264 init
// segment and fMP4 fragments of an exact size, the scaled stand-ins for
// a camera's one-second fragments. The soak (tools/soak) writes them
// through the ring, and the console benchmark on the soak's data
// directory keeps recording with them.
package synth

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"mimamori/recorder/clip/cliptest"
	"mimamori/simcam"
)

// Init is a real H.264 init segment (simcam's SPS/PPS), so the
// police request's export plans and writes a playable-shaped file.
func Init() ([]byte, error) {
	aus, err := simcam.Stream("h264", 0)
	if err != nil {
		return nil, err
	}
	return cliptest.Init(aus)
}

// Fragment returns an fMP4 fragment (moof + mdat, one keyframe sample)
// of exactly size bytes: the scaled stand-in for one second of a
// 4 Mbit/s camera. The ring stores it like any other; clip rewrites its
// mfhd/tfdt when exporting.
func Fragment(size int) ([]byte, error) {
	marshal := func(n int) ([]byte, error) {
		s := fmp4.Sample{Duration: 90000, Payload: make([]byte, n)}
		for i := range s.Payload {
			s.Payload[i] = byte(i*7 + 1)
		}
		part := fmp4.Part{SequenceNumber: 1, Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: 0, Samples: []*fmp4.Sample{&s}}}}
		var buf seekablebuffer.Buffer
		if err := part.Marshal(&buf); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	probe, err := marshal(16)
	if err != nil {
		return nil, err
	}
	overhead := len(probe) - 16
	if size <= overhead {
		return nil, fmt.Errorf("fragment size %d is below the %d bytes of fMP4 boxes", size, overhead)
	}
	b, err := marshal(size - overhead)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("fragment came out %d bytes, wanted %d", len(b), size)
	}
	return b, nil
}
