package ring

import (
	"bytes"
	"crypto/cipher"
	"testing"
)

var fuzzKey = [keySize]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

func fuzzAEAD(t testing.TB) cipher.AEAD {
	a, err := newAEAD(&fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sealRecord returns a complete version-2 record, as appendRecord writes it.
func sealRecord(t testing.TB, aead cipher.AEAD, h recHeader, payload []byte) []byte {
	t.Helper()
	h.Length = uint32(len(payload))
	size := recordSize(recV2, len(payload))
	var s sealer
	s.begin(aead, h, make([]byte, 0, scratchSize))
	var body []byte
	pad := int(size - hdrV2 - bodySize(recV2, len(payload)))
	if err := s.sealParts(len(payload), [][]byte{payload}, pad, func(b []byte) error {
		body = append(body, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), s.header()...), body...)
}

// FuzzDecodeRecord: the decoder never panics on arbitrary bytes, and
// whatever it accepts and decrypts seals again to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	aead := fuzzAEAD(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		h, body, size, err := checkRecord(data)
		if err != nil {
			return
		}
		hl := hdrLen(h.Version)
		payload, err := openBody(h, data[:hl], body, aead)
		if err != nil {
			return
		}
		if size != recordSize(h.Version, len(payload)) || int64(len(payload)) != int64(h.Length) {
			t.Fatalf("size %d for payload %d", size, len(payload))
		}
		var re []byte
		if h.Version == recV1 {
			re = encodeV1(h, payload)
		} else {
			re = sealRecord(t, aead, h, payload)
		}
		n := int64(hl) + bodySize(h.Version, len(payload))
		if !bytes.Equal(re[:n], orig[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", re[:n], orig[:n])
		}
	})
}

func fuzzSeeds(t testing.TB) [][]byte {
	aead := fuzzAEAD(t)
	frag := sealRecord(t, aead, recHeader{Kind: kindFragment, Flags: flagKeyframe, Camera: 3, Gen: 1 << 32,
		Seq: 7, Start: t0.UnixNano(), Dur: 1e9, InitID: 1, Nonce: 99}, []byte("moof....mdat...."))
	init := sealRecord(t, aead, recHeader{Kind: kindInit, Camera: 1, Gen: 5, Seq: 1, Start: t0.UnixNano(), Nonce: 3}, []byte("ftypmoov"))
	big := sealRecord(t, aead, recHeader{Kind: kindFragment, Camera: 1, Gen: 9, Dur: 5, Nonce: 4}, payloadFor("x", 1, 3*sealChunk+5))
	v1 := encodeV1(recHeader{Kind: kindFragment, Flags: flagDiscontinuity, Camera: 1, Gen: 9, Dur: 5}, []byte{1, 2, 3})
	badCRC := bytes.Clone(frag)
	badCRC[hdrV2] ^= 1
	return [][]byte{frag, init, big, v1, frag[:hdrV2+3], badCRC, frag[:10], {}}
}

func TestDecodeRecordRejects(t *testing.T) {
	s := fuzzSeeds(t)
	for i, want := range []error{nil, nil, nil, nil, ErrShortRecord, ErrBadCRC, ErrShortRecord, ErrShortRecord} {
		if _, _, _, err := checkRecord(bytes.Clone(s[i])); err != want {
			t.Errorf("seed %d: %v, want %v", i, err, want)
		}
	}
	bad := bytes.Clone(s[0])
	bad[0] = 'X'
	if _, _, _, err := checkRecord(bad); err != ErrBadMagic {
		t.Errorf("bad magic: %v", err)
	}
	// A record that checks but was sealed under another key (another
	// generation's) does not open.
	other := [keySize]byte{9}
	a2, _ := newAEAD(&other)
	rec := bytes.Clone(s[2])
	h, body, _, err := checkRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openBody(h, rec[:hdrV2], body, a2); err == nil {
		t.Fatal("record opened under the wrong key")
	}
	rec = bytes.Clone(s[2])
	h, body, _, _ = checkRecord(rec)
	got, err := openBody(h, rec[:hdrV2], body, fuzzAEAD(t))
	if err != nil || !bytes.Equal(got, payloadFor("x", 1, 3*sealChunk+5)) {
		t.Fatalf("multi-chunk record: %v", err)
	}
}
