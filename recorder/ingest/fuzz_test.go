package ingest

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzAccessUnits from the clips")

// Fuzz input: one codec byte (even H.264, odd H.265), then records of
// [int16 PTS step in ms][NAL count][per NAL: uint16 length, bytes].
// A truncated record ends the input.
func decodeFuzz(data []byte) (codecKind, [][][]byte, []int64) {
	if len(data) == 0 {
		return codecH264, nil, nil
	}
	codec := codecH264
	if data[0]&1 == 1 {
		codec = codecH265
	}
	data = data[1:]
	var aus [][][]byte
	var pts []int64
	var t int64
	for len(data) >= 3 {
		step := int64(int16(binary.BigEndian.Uint16(data))) * 90
		n := int(data[2])
		data = data[3:]
		au := make([][]byte, 0, n)
		for i := 0; i < n && len(data) >= 2; i++ {
			l := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			l = min(l, len(data))
			au = append(au, data[:l])
			data = data[l:]
		}
		t += step
		aus = append(aus, au)
		pts = append(pts, t)
	}
	return codec, aus, pts
}

func encodeFuzz(codec codecKind, aus []clipAU) []byte {
	var b bytes.Buffer
	b.WriteByte(byte(codec - 1))
	var prev int64
	for _, a := range aus {
		step := (a.pts - prev) / 90
		prev += step * 90
		_ = binary.Write(&b, binary.BigEndian, int16(step))
		var nal [][]byte
		for _, n := range a.nalus {
			if len(n) <= 0xffff {
				nal = append(nal, n)
			}
		}
		b.WriteByte(byte(len(nal)))
		for _, n := range nal {
			_ = binary.Write(&b, binary.BigEndian, uint16(len(n)))
			b.Write(n)
		}
	}
	return b.Bytes()
}

// FuzzAccessUnits feeds arbitrary NAL unit lists and timestamps through
// the fragmenter: it must not panic, and whatever it writes must parse.
func FuzzAccessUnits(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 40, 1, 0, 1, 0x65})
	f.Fuzz(func(t *testing.T, data []byte) {
		codec, aus, pts := decodeFuzz(data)
		h := newHarness(codec)
		for i := range aus {
			h.f.writeAU(aus[i], pts[i])
		}
		h.f.endConnection()
		inits, frags := h.sink.snapshot()
		for i, raw := range inits {
			var in fmp4.Init
			if err := in.Unmarshal(bytes.NewReader(raw)); err != nil {
				t.Fatalf("init %d does not parse: %v", i, err)
			}
		}
		parseFragments(t, frags)
		for i := 1; i < len(frags); i++ {
			if frags[i].Start.Before(frags[i-1].Start) {
				t.Fatalf("fragment %d starts before fragment %d", i, i-1)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpus from the clips
// (go test -run TestWriteFuzzSeeds -update-seeds).
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite the corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzAccessUnits")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k264, a264 := loadClip(t, "testdata/h264_320.ts")
	k265, a265 := loadClip(t, "testdata/h265_320.ts")
	write("h264_gop", encodeFuzz(k264, a264[:10]))
	write("h265_gop", encodeFuzz(k265, a265[:10]))
	// Timestamps backwards and a 20 s gap in the middle of a GOP.
	jumpy := append([]clipAU(nil), a264[:12]...)
	for i := 6; i < len(jumpy); i++ {
		jumpy[i].pts -= 20 * clockRate
	}
	write("h264_jump", encodeFuzz(k264, jumpy))
	// Parameter sets only, then frames without them.
	write("h264_params_only", encodeFuzz(k264, []clipAU{{nalus: a264[0].nalus[:2]}, a264[1], a264[2]}))
}
