package simcam

import "time"

// Stream returns the exact access units the server sends for codec at
// bitrate (bits per second of NAL unit bytes): the clip with one filler-data
// NAL unit appended to each access unit so that every GOP reaches the target.
// The filler is computed from each GOP's size alone, so the result is
// deterministic. bitrate 0 returns the clip as is; a GOP already above the
// target gets no filler.
func Stream(codec string, bitrate int64) ([]AccessUnit, error) {
	aus, err := Clip(codec)
	if err != nil {
		return nil, err
	}
	if bitrate < 0 {
		return nil, &OptionError{Field: "Bitrate", Msg: "must not be negative"}
	}
	if bitrate > 0 {
		addFiller(aus, kindsFor(codec).fillerHeader, bitrate)
	}
	return aus, nil
}

// addFiller appends filler NAL units in place. Filler goes last in each access
// unit because neither codec allows it before the first slice.
func addFiller(aus []AccessUnit, header []byte, bitrate int64) {
	minLen := len(header) + 1 // header + rbsp trailing byte 0x80
	for start := 0; start < len(aus); {
		end := start + 1
		for end < len(aus) && !aus[end].IDR {
			end++
		}
		gop := aus[start:end]
		size := int64(0)
		for _, au := range gop {
			size += int64(au.Size())
		}
		dur := time.Duration(len(gop)) * FrameDuration
		target := bitrate * int64(dur) / int64(8*time.Second)
		if missing := target - size; missing > 0 {
			n := int64(len(gop))
			for j := range gop {
				f := missing / n
				if int64(j) < missing%n {
					f++
				}
				if f >= int64(minLen) {
					gop[j].NALUs = append(gop[j].NALUs, fillerNALU(header, int(f)))
				}
			}
		}
		start = end
	}
}

// fillerNALU builds a filler-data NAL unit of exactly size bytes:
// header, 0xFF bytes, then the rbsp stop bit 0x80.
func fillerNALU(header []byte, size int) []byte {
	b := make([]byte, size)
	copy(b, header)
	for i := len(header); i < size-1; i++ {
		b[i] = 0xff
	}
	b[size-1] = 0x80
	return b
}

// nativeBitrate is the clip's own bitrate in bits per second.
func nativeBitrate(aus []AccessUnit) int64 {
	size := int64(0)
	for _, au := range aus {
		size += int64(au.Size())
	}
	dur := time.Duration(len(aus)) * FrameDuration
	return size * 8 * int64(time.Second) / int64(dur)
}
