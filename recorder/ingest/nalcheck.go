package ingest

import (
	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// nalHeadersOK rejects access units whose NAL unit headers break the
// syntax every decoder relies on: a set forbidden_zero_bit, H.264
// SPS/PPS/IDR with nal_ref_idc 0, an H.265 header shorter than 2 bytes or
// with nuh_temporal_id_plus1 0, an H.265 reserved picture type, or a
// slice whose header does not parse (sliceHeaderOK). Such units are
// corrupt (or garbage), so they are dropped rather than stored.
func (f *fragmenter) nalHeadersOK(au [][]byte) bool {
	for _, n := range au {
		if n[0]&0x80 != 0 {
			return false
		}
		if f.codec == codecH265 {
			if len(n) < 2 || n[1]&0x07 == 0 {
				return false
			}
			typ := (n[0] >> 1) & 0x3f
			if (typ >= 10 && typ <= 15) || (typ >= 22 && typ <= 31) {
				return false // reserved VCL types: no conforming stream has them
			}
			if typ < 22 && !h265SliceHeaderOK(n, typ) {
				return false
			}
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeIDR:
			if n[0]&0x60 == 0 || !h264SliceHeaderOK(n, true, f.mbs) {
				return false
			}
		case h264.NALUTypeSPS, h264.NALUTypePPS:
			if n[0]&0x60 == 0 {
				return false
			}
		case h264.NALUTypeNonIDR, h264.NALUTypeDataPartitionA:
			if !h264SliceHeaderOK(n, false, f.mbs) {
				return false
			}
		}
	}
	return true
}

// sliceHead is the start of a slice NAL unit's payload with emulation
// prevention removed: enough for the first few header fields.
func sliceHead(n []byte, hdr int) []byte {
	return h264.EmulationPreventionRemove(n[hdr:min(len(n), hdr+24)])
}

// maxMbs bounds first_mb_in_slice when the SPS is unknown (8192×4320).
const maxMbs = 139264

// h264SliceHeaderOK checks the first three fields of an H.264 slice
// header (7.3.3): first_mb_in_slice inside the picture (mbs macroblocks),
// slice_type 0–9 (I or SI for an IDR), pic_parameter_set_id ≤ 255.
func h264SliceHeaderOK(n []byte, idr bool, mbs int) bool {
	if len(n) < 2 {
		return false
	}
	buf, pos := sliceHead(n, 1), 0
	firstMb, err := bits.ReadGolombUnsigned(buf, &pos)
	if err != nil || int(firstMb) >= mbs {
		return false
	}
	sliceType, err := bits.ReadGolombUnsigned(buf, &pos)
	if err != nil || sliceType > 9 || (idr && sliceType%5 != 2 && sliceType%5 != 4) {
		return false
	}
	ppsID, err := bits.ReadGolombUnsigned(buf, &pos)
	return err == nil && ppsID <= 255
}

// h265SliceHeaderOK checks an H.265 slice segment header's start (7.3.6.1):
// the flags are readable and slice_pic_parameter_set_id ≤ 63.
func h265SliceHeaderOK(n []byte, typ byte) bool {
	if len(n) < 3 {
		return false
	}
	buf, pos := sliceHead(n, 2), 1 // first_slice_segment_in_pic_flag
	if typ >= 16 {
		pos++ // no_output_of_prior_pics_flag (IRAP)
	}
	if pos > len(buf)*8 {
		return false
	}
	ppsID, err := bits.ReadGolombUnsigned(buf, &pos)
	return err == nil && ppsID <= 63
}

// h264Mbs is the number of macroblocks of a picture of sps (a bound for
// first_mb_in_slice), or maxMbs if it does not parse.
func h264Mbs(sps []byte) int {
	var s h264.SPS
	if s.Unmarshal(sps) != nil || s.Width() <= 0 || s.Height() <= 0 {
		return maxMbs
	}
	// Height is the frame height; a field picture has half, so this bounds both.
	return ((s.Width() + 15) / 16) * ((s.Height() + 15) / 16) * 2
}

// h264PPSOK checks a PPS's ids: pps_id ≤ 255 and seq_parameter_set_id
// naming the current SPS (ids from 0 to 31).
func h264PPSOK(pps []byte, spsID int) bool {
	if len(pps) < 2 {
		return false
	}
	head := pps[1:min(len(pps), 16)]
	buf := h264.EmulationPreventionRemove(head)
	pos := 0
	ppsID, err := bits.ReadGolombUnsigned(buf, &pos)
	if err != nil || ppsID > 255 {
		return false
	}
	id, err := bits.ReadGolombUnsigned(buf, &pos)
	if err != nil || id > 31 {
		return false
	}
	return spsID < 0 || int(id) == spsID
}

func h264SPSID(sps []byte) int {
	var s h264.SPS
	if s.Unmarshal(sps) != nil {
		return -1
	}
	return int(s.ID)
}

func h265PPSOK(pps []byte) bool {
	var p h265.PPS
	return p.Unmarshal(pps) == nil
}
