package ring

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord: the decoder never panics on arbitrary bytes, and
// whatever it accepts re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, payload, size, err := decodeRecord(data)
		if err != nil {
			return
		}
		if size != recordSize(len(payload)) || int64(len(payload)) != int64(h.Length) || size < hdrSize {
			t.Fatalf("size %d for payload %d", size, len(payload))
		}
		re := encodeRecord(nil, h, payload)
		n := hdrSize + len(payload)
		if !bytes.Equal(re[:n], data[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", re[:n], data[:n])
		}
	})
}

func fuzzSeeds() [][]byte {
	frag := encodeRecord(nil, recHeader{Kind: kindFragment, Flags: flagKeyframe, Camera: 3, Gen: 1 << 32,
		Seq: 7, Start: t0.UnixNano(), Dur: 1e9, InitID: 1}, []byte("moof....mdat...."))
	init := encodeRecord(nil, recHeader{Kind: kindInit, Camera: 1, Gen: 5, Seq: 1, Start: t0.UnixNano()}, []byte("ftypmoov"))
	odd := encodeRecord(nil, recHeader{Kind: kindFragment, Flags: flagDiscontinuity, Camera: 1, Gen: 9, Dur: 5}, []byte{1, 2, 3})
	badCRC := bytes.Clone(frag)
	badCRC[hdrSize] ^= 1
	return [][]byte{frag, init, odd, frag[:hdrSize+3], badCRC, frag[:10], {}}
}

func TestDecodeRecordRejects(t *testing.T) {
	s := fuzzSeeds()
	for i, want := range []error{nil, nil, nil, ErrShortRecord, ErrBadCRC, ErrShortRecord, ErrShortRecord} {
		if _, _, _, err := decodeRecord(s[i]); err != want {
			t.Errorf("seed %d: %v, want %v", i, err, want)
		}
	}
	bad := bytes.Clone(s[0])
	bad[0] = 'X'
	if _, _, _, err := decodeRecord(bad); err != ErrBadMagic {
		t.Errorf("bad magic: %v", err)
	}
}
