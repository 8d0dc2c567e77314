package simcam

import (
	"errors"
	"testing"
	"time"
)

func TestClipStructure(t *testing.T) {
	for _, codec := range []string{CodecH264, CodecH265} {
		t.Run(codec, func(t *testing.T) {
			aus, err := Clip(codec)
			if err != nil {
				t.Fatal(err)
			}
			if len(aus) < 200 || len(aus) > 300 {
				t.Fatalf("clip has %d access units, want about 250", len(aus))
			}
			k := kindsFor(codec)
			size := 0
			for i, au := range aus {
				size += au.Size()
				if au.PTS != FrameDuration*time.Duration(i) {
					t.Fatalf("AU %d PTS %v", i, au.PTS)
				}
				wantIDR := i%25 == 0
				if au.IDR != wantIDR {
					t.Fatalf("AU %d IDR=%v, want %v (GOP must be exactly 25)", i, au.IDR, wantIDR)
				}
				if au.IDR && !k.hasParams(au) {
					t.Fatalf("IDR AU %d lacks parameter sets", i)
				}
				vcl := 0
				for _, n := range au.NALUs {
					if k.isVCL(n) {
						vcl++
					}
				}
				if vcl == 0 {
					t.Fatalf("AU %d has no slice", i)
				}
			}
			t.Logf("%s: %d AUs, %d bytes, %d kbit/s", codec, len(aus), size, nativeBitrate(aus)/1000)
		})
	}
}

func TestClipUnknownCodec(t *testing.T) {
	_, err := Clip("mjpeg")
	var ce *CodecError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *CodecError", err)
	}
}

func TestClipIsACopy(t *testing.T) {
	a, err := Clip(CodecH264)
	if err != nil {
		t.Fatal(err)
	}
	a[0].NALUs[0][0] = 0
	b, err := Clip(CodecH264)
	if err != nil {
		t.Fatal(err)
	}
	if b[0].NALUs[0][0] == 0 {
		t.Fatal("modifying Clip's result changed the embedded clip")
	}
}

func TestStreamBitrate(t *testing.T) {
	for _, codec := range []string{CodecH264, CodecH265} {
		for _, bitrate := range []int64{2_000_000, 4_000_000, 8_000_000} {
			clip, err := Clip(codec)
			if err != nil {
				t.Fatal(err)
			}
			aus, err := Stream(codec, bitrate)
			if err != nil {
				t.Fatal(err)
			}
			if len(aus) != len(clip) {
				t.Fatalf("%d AUs, clip has %d", len(aus), len(clip))
			}
			k := kindsFor(codec)
			// Each second (one GOP) must be within 10% of the target.
			for g := 0; g+25 <= len(aus); g += 25 {
				bytes := 0
				for _, au := range aus[g : g+25] {
					bytes += au.Size()
				}
				got := int64(bytes) * 8
				if got < bitrate*9/10 || got > bitrate*11/10 {
					t.Fatalf("%s at %d: second %d carries %d bit", codec, bitrate, g/25, got)
				}
			}
			for i, au := range aus {
				// The clip's own NAL units come first, unchanged.
				for j, n := range clip[i].NALUs {
					if string(au.NALUs[j]) != string(n) {
						t.Fatalf("AU %d NALU %d altered", i, j)
					}
				}
				extra := au.NALUs[len(clip[i].NALUs):]
				if len(extra) != 1 {
					t.Fatalf("AU %d: %d filler NALUs, want 1", i, len(extra))
				}
				f := extra[0]
				if string(f[:len(k.fillerHeader)]) != string(k.fillerHeader) || f[len(f)-1] != 0x80 {
					t.Fatalf("AU %d: bad filler %x...", i, f[:4])
				}
			}
			again, err := Stream(codec, bitrate)
			if err != nil {
				t.Fatal(err)
			}
			if !equalAUs(aus, again) {
				t.Fatal("Stream is not deterministic")
			}
		}
	}
}

func TestStreamZeroIsClip(t *testing.T) {
	clip, _ := Clip(CodecH265)
	s, err := Stream(CodecH265, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !equalAUs(clip, s) {
		t.Fatal("Stream(codec, 0) differs from Clip")
	}
	if _, err := Stream(CodecH265, -1); err == nil {
		t.Fatal("negative bitrate accepted")
	}
}

func equalAUs(a, b []AccessUnit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalNALUs(a[i].NALUs, b[i].NALUs) || a[i].IDR != b[i].IDR || a[i].PTS != b[i].PTS {
			return false
		}
	}
	return true
}

func equalNALUs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i]) != string(b[i]) {
			return false
		}
	}
	return true
}
