package clip_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mimamori/recorder/clip"
	"mimamori/recorder/clip/cliptest"
	"mimamori/simcam"
)

// The wall clock is stepped back 5 s while a camera records (NTP
// correcting a clock that ran ahead): ingest follows it at the next
// keyframe, so 5 s of footage carries the same times as the 5 s before
// the step. An export over that stretch must neither fail nor interleave
// the two runs (fragments of one decoding with the frames of the other):
// it follows recording order and starts a new file where time goes back.
func TestPlanAcrossClockStepBack(t *testing.T) {
	rg := openRing(t, 64<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	o := cliptest.Options{Camera: "cam1", Start: t0, Duration: 10 * time.Second, Bitrate: 500_000, FragmentsPerGOP: 2}
	id, _, err := cliptest.Fill(rg, o)
	if err != nil {
		t.Fatal(err)
	}
	aus, err := simcam.Stream("h264", 500_000)
	if err != nil {
		t.Fatal(err)
	}
	o.Start = t0.Add(5 * time.Second) // the step back
	if _, err := cliptest.Append(rg, o, id, aus); err != nil {
		t.Fatal(err)
	}
	if err := rg.Sync(); err != nil {
		t.Fatal(err)
	}
	all, _ := rg.Fragments("cam1", t0, t0.Add(time.Hour))
	pieces, err := clip.Plan(rg, "cam1", t0, t0.Add(15*time.Second))
	if err != nil {
		t.Fatalf("export across a clock step back: %v", err)
	}
	n := 0
	for i, p := range pieces {
		n += len(p.Refs)
		var buf bytes.Buffer
		if _, err := p.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		checkPiece(t, rg, p, buf.Bytes())
		// Consecutive samples are consecutive access units of the camera's
		// loop: one run, not two interleaved.
		got, _ := samples(t, buf.Bytes()[len(p.InitSegment()):])
		at := -1
		for j, au := range aus {
			if bytes.Equal(bytes.Join(au.NALUs, nil), avccPayload(got[0])) {
				at = j
				break
			}
		}
		if at < 0 {
			t.Fatalf("piece %d: first sample is not an access unit of the loop", i)
		}
		for k, s := range got {
			if want := bytes.Join(aus[(at+k)%len(aus)].NALUs, nil); !bytes.Equal(avccPayload(s), want) {
				t.Fatalf("piece %d sample %d is not the access unit after sample %d: two runs interleaved", i, k, k-1)
			}
		}
		path := filepath.Join(t.TempDir(), "p.mp4")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if frames := ffprobeFrames(t, path); frames != len(got) {
			t.Fatalf("piece %d: ffprobe decoded %d of %d frames", i, frames, len(got))
		}
	}
	if n != len(all) || len(pieces) != 2 {
		t.Fatalf("%d pieces holding %d of %d fragments; want 2 pieces with every fragment once", len(pieces), n, len(all))
	}
}

// avccPayload strips the 4-byte length prefixes of an AVCC sample.
func avccPayload(s []byte) []byte {
	var out []byte
	for len(s) >= 4 {
		n := int(s[0])<<24 | int(s[1])<<16 | int(s[2])<<8 | int(s[3])
		if 4+n > len(s) {
			break
		}
		out = append(out, s[4:4+n]...)
		s = s[4+n:]
	}
	return out
}
