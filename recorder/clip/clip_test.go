package clip_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"mimamori/core"
	"mimamori/recorder"
	"mimamori/recorder/clip"
	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/ring"
	"mimamori/simcam"
)

type nopLedger struct{}

func (nopLedger) RecordErasure(core.Erasure) error           { return nil }
func (nopLedger) RecordEvent(core.RecordingEvent) error      { return nil }
func (nopLedger) ActiveHolds(now time.Time) []core.HoldRange { return nil }

func openRing(t testing.TB, capacity int64) *ring.Ring {
	t.Helper()
	rg, err := ring.Open(ring.Options{Dir: t.TempDir(), Capacity: capacity, BlockSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rg.Close() })
	return rg
}

// recordSimcam records one simulated camera over real RTSP for d.
func recordSimcam(t *testing.T, d time.Duration) (*ring.Ring, time.Time, time.Time) {
	t.Helper()
	srv, err := simcam.New(simcam.Options{Listen: "127.0.0.1:0", Cameras: 1, Codec: "h264", Bitrate: 2_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	rec, err := recorder.New(recorder.Options{DataDir: t.TempDir(), Capacity: 64 << 20, BlockSize: 1 << 20,
		SyncInterval: 200 * time.Millisecond, Cameras: []recorder.Camera{{ID: "cam1", URL: srv.URL(1)}}, Ledger: nopLedger{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now().UTC()
	go func() { defer close(done); rec.Run(ctx) }()
	time.Sleep(d)
	cancel()
	<-done
	t.Cleanup(func() { rec.Close() })
	return rec.Ring(), start, time.Now().UTC()
}

// samples returns every sample payload of an fMP4 byte stream (moof+mdat
// pairs) and the parts' decode times.
func samples(t *testing.T, b []byte) ([][]byte, []fmp4.Part) {
	t.Helper()
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		t.Fatalf("not fMP4: %v", err)
	}
	var out [][]byte
	var ps []fmp4.Part
	for _, p := range parts {
		ps = append(ps, *p)
		for _, tr := range p.Tracks {
			for _, s := range tr.Samples {
				out = append(out, s.Payload)
			}
		}
	}
	return out, ps
}

// checkPiece verifies a written piece in pure Go: the init segment parses,
// every sample equals the recorded one byte for byte, and decode times
// run forward without overlap.
func checkPiece(t *testing.T, src clip.Source, p clip.Piece, file []byte) {
	t.Helper()
	if int64(len(file)) != p.Size() {
		t.Fatalf("wrote %d bytes, Size says %d", len(file), p.Size())
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(file[:len(p.InitSegment())])); err != nil {
		t.Fatalf("init segment: %v", err)
	}
	got, parts := samples(t, file[len(p.InitSegment()):])
	var want [][]byte
	for _, ref := range p.Refs {
		b, err := src.ReadFragment(ref)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := samples(t, b)
		want = append(want, s...)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d samples in the file, %d recorded", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("sample %d differs from the recording", i)
		}
	}
	var end uint64
	for i, pt := range parts {
		if i == 0 && pt.Tracks[0].BaseTime != 0 {
			t.Fatalf("first decode time %d, want 0", pt.Tracks[0].BaseTime)
		}
		if pt.Tracks[0].BaseTime < end {
			t.Fatalf("part %d decodes at %d, before the previous part ends (%d)", i, pt.Tracks[0].BaseTime, end)
		}
		if pt.SequenceNumber != uint32(i+1) {
			t.Fatalf("part %d has sequence number %d", i, pt.SequenceNumber)
		}
		end = pt.Tracks[0].BaseTime
		for _, s := range pt.Tracks[0].Samples {
			end += uint64(s.Duration)
		}
	}
	if parts[0].Tracks[0].Samples[0].IsNonSyncSample {
		t.Fatal("piece does not start with a keyframe")
	}
}

// ffprobeFrames decodes path with ffmpeg (any error fails) and returns the
// number of video frames ffprobe counts.
func ffprobeFrames(t *testing.T, path string) int {
	t.Helper()
	ffmpeg, err1 := exec.LookPath("ffmpeg")
	ffprobe, err2 := exec.LookPath("ffprobe")
	if err1 != nil || err2 != nil {
		t.Skip("ffmpeg/ffprobe not installed; skipping the decoder check (pure-Go checks ran)")
	}
	out, err := exec.Command(ffmpeg, "-v", "error", "-xerror", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decode: %v\n%s", err, out)
	}
	out, err = exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe output %q", out)
	}
	return n
}

func TestPlanRecordedSimcamPlays(t *testing.T) {
	rg, start, end := recordSimcam(t, 8*time.Second)
	all, err := rg.Fragments("cam1", start.Add(-time.Minute), end.Add(time.Minute))
	if err != nil || len(all) < 3 {
		t.Fatalf("recorded %d fragments: %v", len(all), err)
	}
	// Start mid-recording, inside a fragment: the piece must begin at the
	// keyframe at or before from.
	from := all[1].Start.Add(all[1].Duration / 2)
	to := all[len(all)-1].Start
	pieces, err := clip.Plan(rg, "cam1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(pieces) != 1 {
		t.Fatalf("%d pieces, want 1", len(pieces))
	}
	p := pieces[0]
	if p.Start().After(from) || !p.Refs[0].Keyframe {
		t.Fatalf("piece starts %v (keyframe %v), after from %v", p.Start(), p.Refs[0].Keyframe, from)
	}
	if p.End().Before(to) {
		t.Fatalf("piece ends %v, before to %v", p.End(), to)
	}
	var buf bytes.Buffer
	n, err := p.WriteTo(&buf)
	if err != nil || n != p.Size() {
		t.Fatalf("WriteTo: %d bytes, %v", n, err)
	}
	checkPiece(t, rg, p, buf.Bytes())
	path := filepath.Join(t.TempDir(), "cam1.mp4")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := samples(t, buf.Bytes()[len(p.InitSegment()):])
	frames := ffprobeFrames(t, path)
	if frames != len(got) {
		t.Fatalf("ffprobe decoded %d frames, the file holds %d samples", frames, len(got))
	}
	t.Logf("%d fragments, %d frames, %d bytes, %v..%v", len(p.Refs), frames, p.Size(), p.Start(), p.End())
}

func TestPlanSplitsOnInitChange(t *testing.T) {
	rg := openRing(t, 64<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	id1, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 4 * time.Second, Bitrate: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	// A second configuration: same stream, an init segment that differs
	// (as after a camera's settings change).
	aus, err := simcam.Stream("h264", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	init, err := cliptest.Init(aus)
	if err != nil {
		t.Fatal(err)
	}
	init2 := bytes.Clone(init)
	copy(init2[len(init2)-4:], "\x00\x00\x00\x01") // a different trex default; still valid
	id2, err := rg.AppendInit("cam1", init2)
	if err != nil || id2 == id1 {
		t.Fatalf("second init: id %d (first %d), %v", id2, id1, err)
	}
	o := cliptest.Options{Camera: "cam1", Start: t0.Add(5 * time.Second), Duration: 3 * time.Second}
	if _, err := cliptest.Append(rg, o, id2, aus); err != nil {
		t.Fatal(err)
	}
	pieces, err := clip.Plan(rg, "cam1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(pieces) != 2 || pieces[0].InitID != id1 || pieces[1].InitID != id2 {
		t.Fatalf("pieces: %d", len(pieces))
	}
	if !pieces[0].End().Equal(t0.Add(4*time.Second)) || !pieces[1].Start().Equal(t0.Add(5*time.Second)) {
		t.Fatalf("piece bounds %v..%v, %v..%v", pieces[0].Start(), pieces[0].End(), pieces[1].Start(), pieces[1].End())
	}
	for i, p := range pieces {
		var buf bytes.Buffer
		if _, err := p.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		checkPiece(t, rg, p, buf.Bytes())
		if !bytes.Equal(buf.Bytes()[:len(p.InitSegment())], [][]byte{init, init2}[i]) {
			t.Fatalf("piece %d does not start with its own init segment", i)
		}
	}
}

func TestPlanStartsAtKeyframeBeforeFrom(t *testing.T) {
	rg := openRing(t, 64<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	// Five fragments per one-second GOP: only every fifth is a keyframe.
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 10 * time.Second, FragmentsPerGOP: 5}); err != nil {
		t.Fatal(err)
	}
	from := t0.Add(3*time.Second + 700*time.Millisecond)
	pieces, err := clip.Plan(rg, "cam1", from, t0.Add(6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p := pieces[0]
	if !p.Start().Equal(t0.Add(3*time.Second)) || !p.Refs[0].Keyframe {
		t.Fatalf("piece starts at %v, want the keyframe at %v", p.Start(), t0.Add(3*time.Second))
	}
	if !p.End().Equal(t0.Add(6 * time.Second)) {
		t.Fatalf("piece ends at %v, want %v", p.End(), t0.Add(6*time.Second))
	}
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	checkPiece(t, rg, p, buf.Bytes())
	path := filepath.Join(t.TempDir(), "p.mp4")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := ffprobeFrames(t, path); n != 75 {
		t.Fatalf("ffprobe counted %d frames, want 75 (3 s at 25 fps)", n)
	}
}

// A viewer's plan never reaches outside the granted range: fragments
// crossing an edge are left out, and it starts at the first keyframe in it.
func TestPlanWithinStaysInside(t *testing.T) {
	rg := openRing(t, 64<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 10 * time.Second, FragmentsPerGOP: 5}); err != nil {
		t.Fatal(err)
	}
	from, to := t0.Add(3*time.Second+700*time.Millisecond), t0.Add(6*time.Second+100*time.Millisecond)
	pieces, err := clip.PlanWithin(rg, "cam1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pieces {
		if p.Start().Before(from) || p.End().After(to) {
			t.Fatalf("piece %v..%v outside %v..%v", p.Start(), p.End(), from, to)
		}
		if !p.Refs[0].Keyframe {
			t.Fatal("piece does not start at a keyframe")
		}
	}
	if len(pieces) != 1 || !pieces[0].Start().Equal(t0.Add(4*time.Second)) || !pieces[0].End().Equal(t0.Add(6*time.Second)) {
		t.Fatalf("pieces %d, first %v..%v; want 4 s..6 s", len(pieces), pieces[0].Start(), pieces[0].End())
	}
	// A grant narrower than one GOP holds no decodable footage.
	if _, err := clip.PlanWithin(rg, "cam1", t0.Add(4200*time.Millisecond), t0.Add(4900*time.Millisecond)); !errors.Is(err, clip.ErrNoFootage) {
		t.Fatalf("sub-GOP grant: %v", err)
	}
}

func TestPlanEmptyRange(t *testing.T) {
	rg := openRing(t, 16<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, err := clip.Plan(rg, "cam1", t0, t0.Add(time.Minute)); !errors.Is(err, clip.ErrNoFootage) {
		t.Fatalf("unknown camera: %v, want ErrNoFootage", err)
	}
	if _, err := clip.Plan(rg, "cam1", t0, t0); err == nil {
		t.Fatal("empty range accepted")
	}
}

func TestReaderAtMatchesWriteTo(t *testing.T) {
	rg := openRing(t, 64<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 8 * time.Second, Bitrate: 2_000_000}); err != nil {
		t.Fatal(err)
	}
	pieces, err := clip.Plan(rg, "cam1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	p := pieces[0]
	var want bytes.Buffer
	if _, err := p.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	ra := p.ReaderAt()
	rnd := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 9))
			for range 40 {
				off := rnd.Int64N(p.Size())
				buf := make([]byte, rnd.IntN(200_000)+1)
				n, err := ra.ReadAt(buf, off)
				if err != nil && !(err == io.EOF && off+int64(len(buf)) > p.Size()) {
					t.Errorf("ReadAt(%d, %d): %v", len(buf), off, err)
					return
				}
				if !bytes.Equal(buf[:n], want.Bytes()[off:off+int64(n)]) {
					t.Errorf("ReadAt(%d, %d) differs from WriteTo", len(buf), off)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = rnd
	all, err := io.ReadAll(p.NewReader())
	if err != nil || !bytes.Equal(all, want.Bytes()) {
		t.Fatalf("NewReader: %d bytes, %v", len(all), err)
	}
}

// corruptSource flips a byte of one fragment as if the disk had rotted and
// checks that the clip refuses to pass it on.
type corruptSource struct{ *ring.Ring }

func (c corruptSource) ReadFragment(ref ring.FragmentRef) ([]byte, error) {
	return nil, ring.ErrCorrupt
}

func TestWriteToFailsOnCorruptFragment(t *testing.T) {
	rg := openRing(t, 16<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	pieces, err := clip.Plan(corruptSource{rg}, "cam1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pieces[0].WriteTo(io.Discard); !errors.Is(err, ring.ErrCorrupt) {
		t.Fatalf("WriteTo: %v, want ErrCorrupt", err)
	}
}

// damagingSource reports one fragment as damaged, as the ring does when its
// stored bytes fail their check.
type damagingSource struct {
	*ring.Ring
	bad time.Time
}

func (d damagingSource) ReadFragment(ref ring.FragmentRef) ([]byte, error) {
	if ref.Start.Equal(d.bad) {
		return nil, fmt.Errorf("%w: test", ring.ErrDamaged)
	}
	return d.Ring.ReadFragment(ref)
}

// A damaged fragment is skipped, not fatal: the file keeps its size and
// layout (a free box stands in for the fragment and for the rest of its
// GOP, which cannot be decoded without it), the next GOP plays, and the
// piece names the gap.
func TestDamagedFragmentSkippedAndNamed(t *testing.T) {
	rg := openRing(t, 64<<20)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 6 * time.Second, FragmentsPerGOP: 2}); err != nil {
		t.Fatal(err)
	}
	clean, err := clip.Plan(rg, "cam1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// The keyframe fragment of the third GOP is damaged; its second half
	// depends on it.
	refs := clean[0].Refs
	bad := -1
	for i, r := range refs {
		if r.Keyframe && r.Start.Sub(t0) >= 2*time.Second {
			bad = i
			break
		}
	}
	if bad < 0 || refs[bad+1].Keyframe {
		t.Fatalf("fixture: no keyframe fragment followed by a dependent one (%d)", bad)
	}
	var want bytes.Buffer
	if _, err := clean[0].WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	pieces, err := clip.Plan(damagingSource{rg, refs[bad].Start}, "cam1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	p := pieces[0]
	var got bytes.Buffer
	if _, err := p.WriteTo(&got); err != nil {
		t.Fatalf("WriteTo with a damaged fragment: %v", err)
	}
	if got.Len() != want.Len() {
		t.Fatalf("%d bytes, want %d (same layout)", got.Len(), want.Len())
	}
	// off is where fragment bad begins.
	off := int64(len(p.InitSegment()))
	for i := range bad {
		off += refs[i].Length
	}
	if next := bad + 1; next < len(refs) && refs[next].Keyframe {
		t.Fatal("fixture: the damaged fragment has no dependent fragment")
	}
	g := got.Bytes()
	next := bad + 1 // the next GOP's first fragment
	var span int64
	for ; next < len(refs) && (next == bad+1 || !refs[next].Keyframe); next++ {
	}
	for i := bad; i < next; i++ {
		if string(g[off+span+4:off+span+8]) != "free" {
			t.Fatalf("fragment %d (of %d..%d) not replaced by a free box", i, bad, next-1)
		}
		span += refs[i].Length
	}
	if !bytes.Equal(g[:off], want.Bytes()[:off]) || !bytes.Equal(g[off+span:], want.Bytes()[off+span:]) {
		for i := range g {
			if (int64(i) < off || int64(i) >= off+span) && g[i] != want.Bytes()[i] {
				t.Fatalf("bytes outside the gap differ at %d (gap %d..%d of %d)", i, off, off+span, len(g))
			}
		}
	}
	gaps := p.Gaps()
	if len(gaps) != 1 || !gaps[0].From.Equal(refs[bad].Start) ||
		!gaps[0].To.Equal(refs[next-1].Start.Add(refs[next-1].Duration)) || gaps[0].Reason != clip.GapDamaged {
		t.Fatalf("gaps %+v: want one damaged gap over fragments %d..%d", gaps, bad, next-1)
	}
	// Random access sees the same bytes once the damage is known.
	all, err := io.ReadAll(p.NewReader())
	if err != nil || !bytes.Equal(all, g) {
		t.Fatalf("NewReader differs from WriteTo: %v", err)
	}
	// A decoder plays it without an error, two fragments' frames short.
	dir := t.TempDir()
	good, damaged := filepath.Join(dir, "good.mp4"), filepath.Join(dir, "damaged.mp4")
	os.WriteFile(good, want.Bytes(), 0o600)
	os.WriteFile(damaged, g, 0o600)
	wantFrames, _ := samples(t, want.Bytes()[len(p.InitSegment()):])
	lost, _ := samples(t, want.Bytes()[off:off+span])
	if n := ffprobeFrames(t, damaged); n != len(wantFrames)-len(lost) || n != ffprobeFrames(t, good)-len(lost) {
		t.Fatalf("decoded %d frames, want %d", n, len(wantFrames)-len(lost))
	}
}
