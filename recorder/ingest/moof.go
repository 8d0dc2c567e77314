package ingest

import (
	"encoding/binary"
	"math"
)

// Fragment heads are written here rather than with fmp4.Part.Marshal:
// Part.Marshal copies every sample into a fresh mdat buffer and then into
// its output (two copies and about 1 MB of garbage per camera-second at
// 4 Mbit/s). The head is moof plus the mdat box header; the mdat body is
// the fragmenter's body chunks, handed to the sink as Fragment.Body. The bytes
// are exactly what mediacommon v2.4.1 writes for one track (moof_test.go
// compares the two): mfhd; traf with tfhd (default-base-is-moof), tfdt v1
// and trun v1 (data offset, duration and size always; sample flags when a
// sample is not a sync sample; composition offset when one is non-zero).

const (
	trunDataOffset = 0x001
	trunDuration   = 0x100
	trunSize       = 0x200
	trunFlags      = 0x400
	trunCTO        = 0x800

	sampleNonSync = 1 << 16 // sample_is_non_sync_sample in sample flags
)

// headSample is what the head needs of one sample.
type headSample struct {
	dur  uint32
	size uint32
	cto  int32
	sync bool
}

// maxHeadBody is the largest mdat body a 32-bit box size can carry.
const maxHeadBody = math.MaxUint32 - 8

// appendFragmentHead appends moof and the mdat box header for samples
// whose payloads (bodyLen bytes together) follow as the mdat body.
func appendFragmentHead(dst []byte, seq uint32, trackID uint32, baseTime uint64, samples []headSample, bodyLen int) []byte {
	flags := uint32(trunDataOffset | trunDuration | trunSize)
	for _, s := range samples {
		if !s.sync {
			flags |= trunFlags
		}
		if s.cto != 0 {
			flags |= trunCTO
		}
	}
	entry := 8
	if flags&trunFlags != 0 {
		entry += 4
	}
	if flags&trunCTO != 0 {
		entry += 4
	}
	const mfhdSize, tfhdSize, tfdtSize = 16, 16, 20
	trunSz := 20 + entry*len(samples)
	trafSize := 8 + tfhdSize + tfdtSize + trunSz
	moofSize := 8 + mfhdSize + trafSize

	be := binary.BigEndian
	box := func(b []byte, size int, typ string) []byte {
		b = be.AppendUint32(b, uint32(size))
		return append(b, typ...)
	}
	b := box(dst, moofSize, "moof")
	b = box(b, mfhdSize, "mfhd")
	b = be.AppendUint32(b, 0) // version 0, flags 0
	b = be.AppendUint32(b, seq)
	b = box(b, trafSize, "traf")
	b = box(b, tfhdSize, "tfhd")
	b = be.AppendUint32(b, 0x00020000) // version 0, default-base-is-moof
	b = be.AppendUint32(b, trackID)
	b = box(b, tfdtSize, "tfdt")
	b = be.AppendUint32(b, 0x01000000) // version 1
	b = be.AppendUint64(b, baseTime)
	b = box(b, trunSz, "trun")
	b = be.AppendUint32(b, 0x01000000|flags) // version 1
	b = be.AppendUint32(b, uint32(len(samples)))
	b = be.AppendUint32(b, uint32(int32(moofSize+8))) // data offset: past the mdat header
	for _, s := range samples {
		b = be.AppendUint32(b, s.dur)
		b = be.AppendUint32(b, s.size)
		if flags&trunFlags != 0 {
			var sf uint32
			if !s.sync {
				sf = sampleNonSync
			}
			b = be.AppendUint32(b, sf)
		}
		if flags&trunCTO != 0 {
			b = be.AppendUint32(b, uint32(s.cto))
		}
	}
	b = box(b, 8+bodyLen, "mdat")
	return b
}
