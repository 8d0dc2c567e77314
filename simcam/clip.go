// Package simcam provides simulated IP cameras: an RTSP server that offers
// rtsp://ADDR/cam1..camN, each a real-time stream looping a small H.264 or
// H.265 clip shipped in the repository. The demo, the recorder tests and the
// benchmarks use it as their camera fleet.
package simcam

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// Codec names accepted by Clip, Stream and Options.Codec.
const (
	CodecH264 = "h264"
	CodecH265 = "h265"
)

// FrameDuration is the frame interval of the shipped clips (25 fps).
const FrameDuration = 40 * time.Millisecond

// Clips are made by clips/make.sh; see clips/README.md.
var (
	//go:embed clips/clip.h264
	clipH264 []byte
	//go:embed clips/clip.h265
	clipH265 []byte
)

// AccessUnit is one coded picture as the camera sends it: the NAL units
// without start codes, whether it is a random-access point, and its
// presentation time from the start of the clip (DTS == PTS: no B-frames).
type AccessUnit struct {
	NALUs [][]byte
	IDR   bool
	PTS   time.Duration
}

// Size is the sum of the NAL unit lengths (no start codes, no RTP overhead);
// bitrates in this package are counted in these bytes.
func (au AccessUnit) Size() int {
	n := 0
	for _, nalu := range au.NALUs {
		n += len(nalu)
	}
	return n
}

// Clip returns the shipped clip of codec ("h264" or "h265") split into
// access units. The result is a fresh copy the caller may modify.
func Clip(codec string) ([]AccessUnit, error) {
	var raw []byte
	switch codec {
	case CodecH264:
		raw = clipH264
	case CodecH265:
		raw = clipH265
	default:
		return nil, &CodecError{Codec: codec}
	}
	// Copy so callers can never alter the embedded clip.
	buf := make([]byte, len(raw))
	copy(buf, raw)
	return parseAnnexB(codec, buf)
}

// parseAnnexB splits an Annex-B elementary stream into access units.
func parseAnnexB(codec string, buf []byte) ([]AccessUnit, error) {
	var nalus h264.AnnexB // start-code splitting is the same for H.265
	if err := nalus.Unmarshal(buf); err != nil {
		return nil, &ClipError{Codec: codec, Msg: err.Error()}
	}
	k := kindsFor(codec)

	var aus []AccessUnit
	var cur AccessUnit
	curHasVCL := false
	flush := func() {
		if len(cur.NALUs) > 0 {
			cur.PTS = time.Duration(len(aus)) * FrameDuration
			aus = append(aus, cur)
		}
		cur = AccessUnit{}
		curHasVCL = false
	}
	for _, nalu := range nalus {
		if len(nalu) < k.headerLen {
			return nil, &ClipError{Codec: codec, Msg: fmt.Sprintf("NAL unit of %d bytes is too short", len(nalu))}
		}
		switch {
		case k.isVCL(nalu):
			if curHasVCL && k.firstSliceOfPicture(nalu) {
				flush()
			}
			curHasVCL = true
			if k.isRandomAccess(nalu) {
				cur.IDR = true
			}
		case k.startsAU(nalu):
			if curHasVCL {
				flush()
			}
		}
		cur.NALUs = append(cur.NALUs, nalu)
	}
	if !curHasVCL {
		return nil, &ClipError{Codec: codec, Msg: "stream ends without a picture"}
	}
	flush()

	if !aus[0].IDR || !k.hasParams(aus[0]) {
		return nil, &ClipError{Codec: codec, Msg: "first access unit is not an IDR with parameter sets"}
	}
	return aus, nil
}

// nalKinds holds the codec-specific NAL unit classification.
type nalKinds struct {
	headerLen           int
	isVCL               func(nalu []byte) bool
	isRandomAccess      func(nalu []byte) bool
	firstSliceOfPicture func(nalu []byte) bool
	startsAU            func(nalu []byte) bool // non-VCL units that open a new access unit
	isParam             func(nalu []byte) bool // VPS/SPS/PPS
	fillerHeader        []byte
}

func (k nalKinds) hasParams(au AccessUnit) bool {
	for _, nalu := range au.NALUs {
		if k.isParam(nalu) {
			return true
		}
	}
	return false
}

func h264Type(nalu []byte) byte { return nalu[0] & 0x1f }
func h265Type(nalu []byte) byte { return (nalu[0] >> 1) & 0x3f }

// kindsFor returns the classification for a codec already validated by the caller.
func kindsFor(codec string) nalKinds {
	if codec == CodecH265 {
		return h265Kinds()
	}
	return h264Kinds()
}

func h264Kinds() nalKinds {
	return nalKinds{
		headerLen:      1,
		isVCL:          func(n []byte) bool { t := h264Type(n); return t >= 1 && t <= 5 },
		isRandomAccess: func(n []byte) bool { return h264Type(n) == 5 },
		// first_mb_in_slice is ue(v); its first bit is 1 exactly when it is 0.
		firstSliceOfPicture: func(n []byte) bool { return len(n) > 1 && n[1]&0x80 != 0 },
		startsAU: func(n []byte) bool {
			t := h264Type(n)
			return (t >= 6 && t <= 9) || (t >= 14 && t <= 18)
		},
		isParam:      func(n []byte) bool { t := h264Type(n); return t == 7 || t == 8 },
		fillerHeader: []byte{12}, // nal_ref_idc 0, type 12 (filler data)
	}
}

func h265Kinds() nalKinds {
	return nalKinds{
		headerLen:      2,
		isVCL:          func(n []byte) bool { return h265Type(n) < 32 },
		isRandomAccess: func(n []byte) bool { t := h265Type(n); return t >= 16 && t <= 23 },
		// first_slice_segment_in_pic_flag is the first bit after the 2-byte header.
		firstSliceOfPicture: func(n []byte) bool { return len(n) > 2 && n[2]&0x80 != 0 },
		startsAU: func(n []byte) bool {
			t := h265Type(n)
			return (t >= 32 && t <= 35) || t == 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55)
		},
		isParam:      func(n []byte) bool { t := h265Type(n); return t >= 32 && t <= 34 },
		fillerHeader: []byte{38 << 1, 1}, // FD_NUT, layer 0, temporal id 0 (+1)
	}
}
