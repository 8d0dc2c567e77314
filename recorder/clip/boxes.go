package clip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Minimal ISO-BMFF walking: just enough to find mdhd's timescale in the
// init segment and rewrite mfhd/tfdt in a fragment, in place.

var errBox = errors.New("malformed MP4 box")

// boxes calls fn for each box in b (header included in the slice) and
// stops at the first error.
func boxes(b []byte, fn func(typ string, box []byte, hdr int) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("%w: %d trailing bytes", errBox, len(b))
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := 8
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return fmt.Errorf("%w: short large-size %s", errBox, typ)
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < uint64(hdr) || size > uint64(len(b)) {
			return fmt.Errorf("%w: %s claims %d bytes of %d", errBox, typ, size, len(b))
		}
		if err := fn(typ, b[:size], hdr); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// retime sets the sequence number of every moof and the base media decode
// time of every traf in a fragment. Sample data is not touched.
func retime(frag []byte, seq uint32, tfdt uint64) error {
	var moofs int
	err := boxes(frag, func(typ string, box []byte, hdr int) error {
		if typ != "moof" {
			return nil
		}
		moofs++
		return boxes(box[hdr:], func(typ string, box []byte, hdr int) error {
			switch typ {
			case "mfhd":
				if len(box) < hdr+8 {
					return fmt.Errorf("%w: short mfhd", errBox)
				}
				binary.BigEndian.PutUint32(box[hdr+4:], seq)
			case "traf":
				return boxes(box[hdr:], func(typ string, box []byte, hdr int) error {
					if typ != "tfdt" {
						return nil
					}
					if len(box) < hdr+8 {
						return fmt.Errorf("%w: short tfdt", errBox)
					}
					if box[hdr] == 1 {
						if len(box) < hdr+12 {
							return fmt.Errorf("%w: short tfdt", errBox)
						}
						binary.BigEndian.PutUint64(box[hdr+4:], tfdt)
						return nil
					}
					if tfdt > math.MaxUint32 {
						return fmt.Errorf("%w: decode time %d does not fit a version 0 tfdt", errBox, tfdt)
					}
					binary.BigEndian.PutUint32(box[hdr+4:], uint32(tfdt))
					return nil
				})
			}
			return nil
		})
	})
	if err == nil && moofs == 0 {
		err = fmt.Errorf("%w: fragment has no moof", errBox)
	}
	return err
}

// initTimescale returns the first track's media timescale (mdhd), or
// 90000 (the recorder's clock) when it cannot be found.
func initTimescale(init []byte) uint32 {
	var ts uint32
	var find func(b []byte, depth int) error
	find = func(b []byte, depth int) error {
		return boxes(b, func(typ string, box []byte, hdr int) error {
			if ts != 0 {
				return nil
			}
			switch typ {
			case "moov", "trak", "mdia":
				return find(box[hdr:], depth+1)
			case "mdhd":
				body := box[hdr:]
				if len(body) >= 16 && body[0] == 0 {
					ts = binary.BigEndian.Uint32(body[12:])
				} else if len(body) >= 24 && body[0] == 1 {
					ts = binary.BigEndian.Uint32(body[20:])
				}
			}
			return nil
		})
	}
	_ = find(init, 0)
	if ts == 0 {
		return 90000
	}
	return ts
}
