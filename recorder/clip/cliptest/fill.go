// Package cliptest writes synthetic recordings straight into a ring for
// tests and benchmarks: real simcam access units, fragmented the way the
// recorder does it, without RTSP, so an hour of footage takes seconds.
package cliptest

import (
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"mimamori/recorder/ring"
	"mimamori/simcam"
)

const clockRate = 90000

// Options describe one camera's synthetic recording.
type Options struct {
	Camera   string
	Start    time.Time
	Duration time.Duration
	Bitrate  int64 // simcam filler bitrate; 0 = the clip as shipped
	// FragmentsPerGOP splits each one-second GOP into this many fragments
	// (only the first holds a keyframe). Default 1.
	FragmentsPerGOP int
	// SyncEvery makes the ring index visible every this many fragments
	// (and at the end). Default 64.
	SyncEvery int
}

// Fill appends o.Duration of H.264 footage for o.Camera to rg, starting at
// o.Start, and returns the init id and the number of payload bytes written.
func Fill(rg *ring.Ring, o Options) (initID uint32, bytes int64, err error) {
	aus, err := simcam.Stream("h264", o.Bitrate)
	if err != nil {
		return 0, 0, err
	}
	init, err := Init(aus)
	if err != nil {
		return 0, 0, err
	}
	initID, err = rg.AppendInit(o.Camera, init)
	if err != nil {
		return 0, 0, err
	}
	bytes, err = Append(rg, o, initID, aus)
	return initID, bytes, err
}

// Init builds an H.264 init segment from the first IDR's SPS and PPS.
func Init(aus []simcam.AccessUnit) ([]byte, error) {
	var sps, pps []byte
	for _, au := range aus {
		for _, n := range au.NALUs {
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				sps = n
			case h264.NALUTypePPS:
				pps = n
			}
		}
		if sps != nil && pps != nil {
			break
		}
	}
	if sps == nil || pps == nil {
		return nil, fmt.Errorf("cliptest: clip has no SPS/PPS")
	}
	in := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: clockRate, Codec: &fmp4.CodecH264{SPS: sps, PPS: pps}}}}
	var buf seekablebuffer.Buffer
	if err := in.Marshal(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Append writes fragments decoding with initID, looping over aus from an
// IDR. It returns the payload bytes written.
func Append(rg *ring.Ring, o Options, initID uint32, aus []simcam.AccessUnit) (int64, error) {
	if o.FragmentsPerGOP <= 0 {
		o.FragmentsPerGOP = 1
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = 64
	}
	frameDur := simcam.FrameDuration
	frameTicks := int64(frameDur) * clockRate / int64(time.Second)
	frames := int(o.Duration / frameDur)
	start := o.Start.UTC()
	base := start.UnixNano() / int64(time.Second) * clockRate // tfdt as ingest writes it: wall-clock ticks
	var written int64
	var pending []fmp4.Sample
	var seq uint32
	frags := 0
	firstFrame := 0
	flush := func(next int) error {
		if len(pending) == 0 {
			return nil
		}
		seq++
		ptr := make([]*fmp4.Sample, len(pending))
		for i := range pending {
			ptr[i] = &pending[i]
		}
		part := fmp4.Part{SequenceNumber: seq, Tracks: []*fmp4.PartTrack{{ID: 1,
			BaseTime: uint64(base + int64(firstFrame)*frameTicks), Samples: ptr}}}
		var buf seekablebuffer.Buffer
		if err := part.Marshal(&buf); err != nil {
			return err
		}
		f := ring.Fragment{Camera: o.Camera, Start: start.Add(time.Duration(firstFrame) * frameDur),
			Duration: time.Duration(len(pending)) * frameDur, Keyframe: !pending[0].IsNonSyncSample,
			InitID: initID, Payload: buf.Bytes()}
		if err := rg.AppendFragment(f); err != nil {
			return err
		}
		written += int64(len(f.Payload))
		pending = pending[:0]
		firstFrame = next
		frags++
		if frags%o.SyncEvery == 0 {
			return rg.Sync()
		}
		return nil
	}
	gop := 0
	for i := range frames {
		au := aus[i%len(aus)]
		if au.IDR {
			gop = 0
		}
		if au.IDR || (gop > 0 && gop%max(1, 25/o.FragmentsPerGOP) == 0) {
			if err := flush(i); err != nil {
				return written, err
			}
		}
		gop++
		payload, err := h264.AVCC(au.NALUs).Marshal()
		if err != nil {
			return written, err
		}
		pending = append(pending, fmp4.Sample{Duration: uint32(frameTicks), IsNonSyncSample: !au.IDR, Payload: payload})
	}
	if err := flush(frames); err != nil {
		return written, err
	}
	return written, rg.Sync()
}
