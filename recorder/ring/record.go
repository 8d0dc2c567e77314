package ring

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk records. Version 2 (written now) is encrypted with the block's
// key (keys.go); version 1 (plaintext, written by earlier releases) is
// still read and is erased by zeroing its block.
//
// Version 2: a fixed 64-byte little-endian header, then the payload sealed
// with AES-256-GCM in chunks of sealChunk bytes, each followed by its
// 16-byte tag, padded with zeros to a multiple of 8 bytes.
//
//	0 magic u32 | 4 version u8 | 5 kind u8 | 6 flags u16 | 8 payload length u32
//	12 camera u32 | 16 block generation u64 | 24 per-camera seq u64
//	32 start unix ns i64 | 40 duration ns i64 | 48 init id u32 | 52 crc32c u32
//	56 nonce u64
//
// Chunk i is sealed with nonce = nonce (8 bytes BE) ‖ i (4 bytes BE) and
// the header's first 52 bytes as additional data, so a header can be
// neither altered nor moved to another record. The CRC (Castagnoli) covers
// the header with the crc field zero and the sealed chunks; recovery uses
// it to find the end of the valid records without decrypting twice.
// Version 1 is the same header without the nonce (56 bytes) followed by
// the plaintext payload; its CRC covers header and payload.
const (
	recMagic  uint32 = 0x52524d4d // "MMRR" read as little-endian bytes
	recV1     uint8  = 1
	recV2     uint8  = 2
	hdrV1            = 56
	hdrV2            = 64
	sealChunk        = 64 << 10
	tagSize          = 16

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
	ErrBadTag      = errors.New("ring: record does not authenticate")
)

type recHeader struct {
	Version uint8
	Kind    uint8
	Flags   uint16
	Length  uint32 // payload (plaintext) length
	Camera  uint32
	Gen     uint64
	Seq     uint64
	Start   int64
	Dur     int64
	InitID  uint32
	CRC     uint32
	Nonce   uint64 // version 2
}

func hdrLen(version uint8) int {
	if version == recV1 {
		return hdrV1
	}
	return hdrV2
}

func chunks(n int) int { return max(1, (n+sealChunk-1)/sealChunk) }

// bodySize is the stored size of an n-byte payload after the header.
func bodySize(version uint8, n int) int64 {
	if version == recV1 {
		return int64(n)
	}
	return int64(n) + int64(tagSize*chunks(n))
}

// recordSize is the on-disk footprint of a record with n payload bytes.
func recordSize(version uint8, n int) int64 {
	return (int64(hdrLen(version)) + bodySize(version, n) + 7) &^ 7
}

func putHeader(b []byte, h recHeader) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], recMagic)
	b[4] = h.Version
	b[5] = h.Kind
	le.PutUint16(b[6:], h.Flags)
	le.PutUint32(b[8:], h.Length)
	le.PutUint32(b[12:], h.Camera)
	le.PutUint64(b[16:], h.Gen)
	le.PutUint64(b[24:], h.Seq)
	le.PutUint64(b[32:], uint64(h.Start))
	le.PutUint64(b[40:], uint64(h.Dur))
	le.PutUint32(b[48:], h.InitID)
	le.PutUint32(b[52:], h.CRC)
	if h.Version == recV2 {
		le.PutUint64(b[56:], h.Nonce)
	}
}

// encodeV1 returns a complete version-1 record (tests and fixtures of the
// previous format use it; the ring no longer writes plaintext).
func encodeV1(h recHeader, payload []byte) []byte {
	h.Version, h.Length, h.CRC = recV1, uint32(len(payload)), 0
	b := make([]byte, recordSize(recV1, len(payload)))
	putHeader(b, h)
	copy(b[hdrV1:], payload)
	crc := crc32.Update(0, castagnoli, b[:hdrV1])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(b[52:], crc)
	return b
}

// nonceFor is chunk i's GCM nonce.
func nonceFor(nonce uint64, i int) [12]byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[:], nonce)
	binary.BigEndian.PutUint32(n[8:], uint32(i))
	return n
}

// sealer produces a version-2 record piece by piece into a scratch buffer
// so a fragment is never held twice: the caller flushes the scratch to
// disk whenever it fills (flush), and writes the header last.
type sealer struct {
	aead    cipher.AEAD
	hdr     [hdrV2]byte
	nonce   uint64
	crc     uint32
	chunk   int // next chunk index
	scratch []byte
}

// begin fills the header (crc zero) and starts the CRC.
func (s *sealer) begin(aead cipher.AEAD, h recHeader, scratch []byte) {
	h.Version, h.CRC = recV2, 0
	s.aead, s.nonce, s.chunk, s.scratch = aead, h.Nonce, 0, scratch[:0]
	putHeader(s.hdr[:], h)
	s.crc = crc32.Update(0, castagnoli, s.hdr[:])
}

// sealParts seals the payload given as parts (in order) and calls flush
// with runs of sealed bytes, in order, whenever the scratch is full, and
// once at the end with the padding included.
func (s *sealer) sealParts(n int, parts [][]byte, pad int, flush func([]byte) error) error {
	total := 0
	pi, po := 0, 0 // part index and offset in it
	for i := range chunks(n) {
		m := min(sealChunk, n-total)
		if len(s.scratch)+m+tagSize > cap(s.scratch) {
			if err := flush(s.scratch); err != nil {
				return err
			}
			s.scratch = s.scratch[:0]
		}
		at := len(s.scratch)
		s.scratch = s.scratch[:at+m]
		for w := at; w < at+m; {
			for po == len(parts[pi]) {
				pi, po = pi+1, 0
			}
			c := copy(s.scratch[w:at+m], parts[pi][po:])
			w += c
			po += c
		}
		nonce := nonceFor(s.nonce, i)
		s.scratch = s.aead.Seal(s.scratch[:at], nonce[:], s.scratch[at:at+m], s.hdr[:52])
		s.crc = crc32.Update(s.crc, castagnoli, s.scratch[at:])
		total += m
		s.chunk++
	}
	if len(s.scratch)+pad > cap(s.scratch) {
		if err := flush(s.scratch); err != nil {
			return err
		}
		s.scratch = s.scratch[:0]
	}
	s.scratch = append(s.scratch, zeroPad[:pad]...)
	return flush(s.scratch)
}

// header returns the finished header, CRC included.
func (s *sealer) header() []byte {
	binary.LittleEndian.PutUint32(s.hdr[52:], s.crc)
	return s.hdr[:]
}

// decodeHeader parses and sanity-checks a header without the CRC.
func decodeHeader(b []byte) (recHeader, error) {
	if len(b) < hdrV1 {
		return recHeader{}, ErrShortRecord
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != recMagic {
		return recHeader{}, ErrBadMagic
	}
	h := recHeader{
		Version: b[4],
		Kind:    b[5],
		Flags:   le.Uint16(b[6:]),
		Length:  le.Uint32(b[8:]),
		Camera:  le.Uint32(b[12:]),
		Gen:     le.Uint64(b[16:]),
		Seq:     le.Uint64(b[24:]),
		Start:   int64(le.Uint64(b[32:])),
		Dur:     int64(le.Uint64(b[40:])),
		InitID:  le.Uint32(b[48:]),
		CRC:     le.Uint32(b[52:]),
	}
	switch {
	case h.Version != recV1 && h.Version != recV2:
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
	if h.Version == recV2 {
		if len(b) < hdrV2 {
			return h, ErrShortRecord
		}
		h.Nonce = le.Uint64(b[56:])
	}
	return h, nil
}

// checkRecord parses the record at the start of b and verifies its CRC.
// It returns the header, the stored body (aliasing b) and the padded
// record size.
func checkRecord(b []byte) (recHeader, []byte, int64, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return h, nil, 0, err
	}
	hl := hdrLen(h.Version)
	body := bodySize(h.Version, int(h.Length))
	if int64(len(b)) < int64(hl)+body {
		return h, nil, 0, ErrShortRecord
	}
	var zero [4]byte
	crc := crc32.Update(0, castagnoli, b[:52])
	crc = crc32.Update(crc, castagnoli, zero[:])
	crc = crc32.Update(crc, castagnoli, b[56:hl])
	crc = crc32.Update(crc, castagnoli, b[hl:int64(hl)+body])
	if crc != h.CRC {
		return h, nil, 0, ErrBadCRC
	}
	return h, b[hl : int64(hl)+body], recordSize(h.Version, int(h.Length)), nil
}

// openBody returns the plaintext of a checked record's body. Version 2 is
// decrypted in place (body is overwritten) with aead; version 1 is
// returned as is.
func openBody(h recHeader, hdr, body []byte, aead cipher.AEAD) ([]byte, error) {
	if h.Version == recV1 {
		return body, nil
	}
	if aead == nil {
		return nil, fmt.Errorf("%w: no key for the block", ErrBadTag)
	}
	out := body[:0]
	for i := range chunks(int(h.Length)) {
		m := min(sealChunk+tagSize, len(body))
		nonce := nonceFor(h.Nonce, i)
		pt, err := aead.Open(body[:0], nonce[:], body[:m], hdr[:52])
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d", ErrBadTag, i)
		}
		// Plaintext lands at the start of this chunk's slot; move it down
		// to follow the previous chunks' plaintext.
		out = append(out, pt...)
		body = body[m:]
	}
	if len(out) != int(h.Length) {
		return nil, fmt.Errorf("%w: %d bytes, header says %d", ErrBadRecord, len(out), h.Length)
	}
	return out, nil
}
