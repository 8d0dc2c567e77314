package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk record: a fixed 56-byte little-endian header followed by the
// payload exactly as given, padded with zeros to a multiple of 8 bytes.
//
//	0 magic u32 | 4 version u8 | 5 kind u8 | 6 flags u16 | 8 payload length u32
//	12 camera u32 | 16 block generation u64 | 24 per-camera seq u64
//	32 start unix ns i64 | 40 duration ns i64 | 48 init id u32 | 52 crc32c u32
//
// The CRC (Castagnoli) covers the header with the crc field zero, then the
// payload; padding is not covered.
const (
	recMagic   uint32 = 0x52524d4d // "MMRR" read as little-endian bytes
	recVersion uint8  = 1
	hdrSize           = 56

	kindInit     uint8 = 1
	kindFragment uint8 = 2

	flagKeyframe      uint16 = 1 << 0
	flagDiscontinuity uint16 = 1 << 1
	knownFlags               = flagKeyframe | flagDiscontinuity
)

// castagnoli is read-only after package init.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors from decoding a record; recovery treats any of them as the end of
// the valid data in a block.
var (
	ErrShortRecord = errors.New("ring: record truncated")
	ErrBadMagic    = errors.New("ring: bad record magic")
	ErrBadRecord   = errors.New("ring: malformed record header")
	ErrBadCRC      = errors.New("ring: record checksum mismatch")
)

type recHeader struct {
	Kind   uint8
	Flags  uint16
	Length uint32
	Camera uint32
	Gen    uint64
	Seq    uint64
	Start  int64
	Dur    int64
	InitID uint32
	CRC    uint32
}

// recordSize is the on-disk footprint of a record with n payload bytes.
func recordSize(n int) int64 { return (int64(hdrSize) + int64(n) + 7) &^ 7 }

// encodeRecord writes header and payload into dst (grown as needed) and
// returns the full padded record.
func encodeRecord(dst []byte, h recHeader, payload []byte) []byte {
	n := int(recordSize(len(payload)))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	encodeHeader(dst, h, payload)
	copy(dst[hdrSize:], payload)
	clear(dst[hdrSize+len(payload):])
	return dst
}

// encodeHeader writes the record header for a payload made of parts (in
// order) into hdr[:hdrSize], CRC included, so the payload can be written
// from the caller's memory without first joining it to the header.
func encodeHeader(hdr []byte, h recHeader, parts ...[]byte) {
	h.Length = 0
	for _, p := range parts {
		h.Length += uint32(len(p))
	}
	putHeader(hdr, h, 0)
	crc := crc32.Update(0, castagnoli, hdr[:hdrSize])
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
	}
	binary.LittleEndian.PutUint32(hdr[52:], crc)
}

func putHeader(b []byte, h recHeader, crc uint32) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], recMagic)
	b[4] = recVersion
	b[5] = h.Kind
	le.PutUint16(b[6:], h.Flags)
	le.PutUint32(b[8:], h.Length)
	le.PutUint32(b[12:], h.Camera)
	le.PutUint64(b[16:], h.Gen)
	le.PutUint64(b[24:], h.Seq)
	le.PutUint64(b[32:], uint64(h.Start))
	le.PutUint64(b[40:], uint64(h.Dur))
	le.PutUint32(b[48:], h.InitID)
	le.PutUint32(b[52:], crc)
}

// decodeHeader parses and sanity-checks a header without the CRC.
func decodeHeader(b []byte) (recHeader, error) {
	if len(b) < hdrSize {
		return recHeader{}, ErrShortRecord
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != recMagic {
		return recHeader{}, ErrBadMagic
	}
	h := recHeader{
		Kind:   b[5],
		Flags:  le.Uint16(b[6:]),
		Length: le.Uint32(b[8:]),
		Camera: le.Uint32(b[12:]),
		Gen:    le.Uint64(b[16:]),
		Seq:    le.Uint64(b[24:]),
		Start:  int64(le.Uint64(b[32:])),
		Dur:    int64(le.Uint64(b[40:])),
		InitID: le.Uint32(b[48:]),
		CRC:    le.Uint32(b[52:]),
	}
	switch {
	case b[4] != recVersion:
		return h, fmt.Errorf("%w: version %d", ErrBadRecord, b[4])
	case h.Kind != kindInit && h.Kind != kindFragment:
		return h, fmt.Errorf("%w: kind %d", ErrBadRecord, h.Kind)
	case h.Flags&^knownFlags != 0:
		return h, fmt.Errorf("%w: flags %#x", ErrBadRecord, h.Flags)
	case h.Dur < 0:
		return h, fmt.Errorf("%w: negative duration", ErrBadRecord)
	case h.Camera == 0:
		return h, fmt.Errorf("%w: camera 0", ErrBadRecord)
	}
	return h, nil
}

// decodeRecord parses the record at the start of b and verifies its CRC. It
// returns the header, the payload (aliasing b) and the padded record size.
func decodeRecord(b []byte) (recHeader, []byte, int64, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return h, nil, 0, err
	}
	size := recordSize(int(h.Length))
	if int64(len(b)) < int64(hdrSize)+int64(h.Length) {
		return h, nil, 0, ErrShortRecord
	}
	payload := b[hdrSize : hdrSize+int(h.Length)]
	var zero [4]byte
	crc := crc32.Update(0, castagnoli, b[:52])
	crc = crc32.Update(crc, castagnoli, zero[:])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != h.CRC {
		return h, nil, 0, ErrBadCRC
	}
	return h, payload, size, nil
}
