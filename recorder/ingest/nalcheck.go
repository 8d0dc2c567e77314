package ingest

import (
	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// nalHeadersOK rejects access units whose NAL unit headers break the
// syntax every decoder relies on: a set forbidden_zero_bit, H.264
// SPS/PPS/IDR with nal_ref_idc 0, an H.265 header shorter than 2 bytes or
// with nuh_temporal_id_plus1 0. Such units are corrupt (or garbage), so
// they are dropped rather than stored.
func (f *fragmenter) nalHeadersOK(au [][]byte) bool {
	for _, n := range au {
		if n[0]&0x80 != 0 {
			return false
		}
		if f.codec == codecH265 {
			if len(n) < 2 || n[1]&0x07 == 0 {
				return false
			}
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeIDR, h264.NALUTypeSPS, h264.NALUTypePPS:
			if n[0]&0x60 == 0 {
				return false
			}
		}
	}
	return true
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
