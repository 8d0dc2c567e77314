package clip_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mimamori/recorder/clip"
	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/ring"
)

// Damage on the disk itself, where it really lands: a flipped byte in a
// record's header, one in its sealed payload, a whole block overwritten.
// Each time the file is still written whole and every damaged interval is
// named as a gap; nothing else is lost.
func TestDamageOnDiskSkippedAndNamed(t *testing.T) {
	const bs = 1 << 20
	for _, tc := range []struct {
		name   string
		damage func(f *os.File, ref ring.FragmentRef) error
	}{
		{"header byte", func(f *os.File, ref ring.FragmentRef) error {
			_, err := f.WriteAt([]byte{0x5a}, int64(ref.Block)*bs+ref.Offset-64+33) // inside the start time
			return err
		}},
		{"payload byte", func(f *os.File, ref ring.FragmentRef) error {
			b := make([]byte, 1)
			at := int64(ref.Block)*bs + ref.Offset + ref.Length/2
			if _, err := f.ReadAt(b, at); err != nil {
				return err
			}
			_, err := f.WriteAt([]byte{b[0] ^ 0x01}, at)
			return err
		}},
		{"whole block", func(f *os.File, ref ring.FragmentRef) error {
			_, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, bs), int64(ref.Block)*bs)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := ring.Options{Dir: dir, Capacity: 64 << 20, BlockSize: bs}
			rg, err := ring.Open(o)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
			if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 20 * time.Second,
				Bitrate: 1_000_000, FragmentsPerGOP: 2}); err != nil {
				t.Fatal(err)
			}
			all, _ := rg.Fragments("cam1", t0, t0.Add(time.Hour))
			if err := rg.Close(); err != nil {
				t.Fatal(err)
			}
			// A keyframe fragment in the middle, not in the first block.
			var victim ring.FragmentRef
			for _, r := range all {
				if r.Keyframe && r.Start.Sub(t0) >= 8*time.Second {
					victim = r
					break
				}
			}
			f, err := os.OpenFile(filepath.Join(dir, "ring.dat"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(f, victim); err != nil {
				t.Fatal(err)
			}
			f.Close()
			rg, err = ring.Open(o)
			if err != nil {
				t.Fatal(err)
			}
			defer rg.Close()
			pieces, err := clip.Plan(rg, "cam1", t0, t0.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			var gaps []clip.Gap
			frags := 0
			for _, p := range pieces {
				var buf bytes.Buffer
				if n, err := p.WriteTo(&buf); err != nil || n != p.Size() {
					t.Fatalf("WriteTo over damage: %d of %d bytes, %v", n, p.Size(), err)
				}
				gaps = append(gaps, p.Gaps()...)
				frags += len(p.Refs)
			}
			if len(gaps) == 0 {
				t.Fatal("damaged footage exported without a gap named")
			}
			covered := false
			for _, g := range gaps {
				if g.Reason != clip.GapDamaged {
					t.Fatalf("gap %+v: reason %q", g, g.Reason)
				}
				if !g.From.After(victim.Start) && g.To.After(victim.Start) {
					covered = true
				}
			}
			if !covered {
				t.Fatalf("gaps %+v do not name the damaged fragment at %s", gaps, victim.Start)
			}
			if frags != len(all) {
				t.Fatalf("%d of %d fragments planned", frags, len(all))
			}
			t.Logf("%s: gaps %v", tc.name, gaps)
		})
	}
}
