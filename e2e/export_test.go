package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"mimamori/core"
	"mimamori/keys"
	"mimamori/recorder/export"
	"mimamori/recorder/ring"
)

// gop is the simulated cameras' keyframe interval (25 frames at 25 fps):
// an export may start up to one GOP before the approved start (the
// keyframe it decodes from) and end up to one after (the last fragment).
const gop = time.Second

// exporterSetter is core's hook for the export engine.
type exporterSetter interface{ SetExporter(core.Exporter) }

// attachExporter wires the real export engine over the ring, signing with
// the appliance's host key (the one sshd serves), as the appliance does.
func attachExporter(t *testing.T, r *rig) {
	t.Helper()
	set, ok := any(r.store).(exporterSetter)
	if !ok {
		return
	}
	signer, fp, _, err := keys.LoadOrCreateHostKey(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	r.hostFP = fp
	set.SetExporter(&export.Exporter{Source: r.rec.Ring(), Signer: signer})
	r.exporter = true
}

func (r *rig) hasExporter() bool { return r.exporter }

// exportAndCheck exports id over SSH as the operator (with the manager's
// lock passphrase), verifies the package with the mimamori binary (and
// the export package's Verify) using the package secret the manager was
// shown and the appliance key, extracts it and compares the MP4s with the
// ring. It returns the package path.
func (r *rig) exportAndCheck(id, secret string, from, to time.Time) string {
	t := r.t
	t.Helper()
	res := r.ssh(r.operator, "request export "+id, exportPass+"\n")
	if res.code != 0 {
		t.Fatalf("request export: exit %d\nstderr: %s", res.code, res.stderr)
	}
	pkg := strings.TrimSpace(res.stdout)
	if filepath.Dir(pkg) != r.exportDir {
		t.Fatalf("package %q is not under export_dir %s", pkg, r.exportDir)
	}
	if !strings.Contains(res.stderr, "100%") {
		t.Errorf("no progress on stderr: %q", res.stderr)
	}
	if strings.Contains(res.stdout+res.stderr, exportPass) {
		t.Error("the passphrase was echoed")
	}
	raw, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("ftyp")) || bytes.Contains(raw, []byte("四街道")) {
		t.Error("the package is not encrypted")
	}

	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	verifyWithBinary(t, pkg, keyFile, r.hostFP, out)

	// In-process verify too: the signature must be the appliance's key.
	id0, err := age.ParseX25519Identity(secret)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := export.Verify(f, export.Options{Identities: []age.Identity{id0}, Key: r.hostFP})
	f.Close()
	if err != nil || !rep.Intact || !rep.Authentic {
		t.Fatalf("export.Verify: %v %+v", err, rep)
	}
	if rep.Fingerprint != r.hostFP {
		t.Errorf("package signed by %s, want the host key %s", rep.Fingerprint, r.hostFP)
	}
	m := rep.Manifest
	if m.Request.ID != id || m.Approver != r.manager.name || m.Operator != r.operator.name {
		t.Errorf("manifest request %q approver %q operator %q", m.Request.ID, m.Approver, m.Operator)
	}
	// Neither another key nor the manager's lock passphrase opens it.
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)/2] ^= 0x40
	other, _ := age.GenerateX25519Identity()
	wrong := filepath.Join(t.TempDir(), "wrong")
	_ = os.WriteFile(wrong, []byte(other.String()+"\n"), 0o600)
	if code, outText := runBinary(t, "verify", pkg, "--identity", wrong, "--key", r.hostFP); code == 0 {
		t.Errorf("verify with another key exited 0: %s", outText)
	}
	passFile := filepath.Join(t.TempDir(), "pass")
	_ = os.WriteFile(passFile, []byte(exportPass+"\n"), 0o600)
	if code, outText := runBinary(t, "verify", pkg, "--passphrase-file", passFile, "--key", r.hostFP); code == 0 {
		t.Errorf("verify with the lock passphrase exited 0: %s", outText)
	}
	// A tampered package fails verify.
	bad := filepath.Join(t.TempDir(), "bad"+export.Ext)
	_ = os.WriteFile(bad, tampered, 0o600)
	if code, outText := runBinary(t, "verify", bad, "--identity", keyFile, "--key", r.hostFP); code == 0 {
		t.Errorf("verify of a tampered package exited 0: %s", outText)
	}
	if rep, _ := export.Verify(bytes.NewReader(raw), export.Options{Identities: []age.Identity{other}}); rep == nil || rep.Intact {
		t.Error("export.Verify opened the package with another key")
	}
	if rep, _ := export.Verify(bytes.NewReader(tampered), export.Options{Identities: []age.Identity{id0}, Key: r.hostFP}); rep == nil || rep.Intact {
		t.Error("export.Verify passed a tampered package")
	}

	for _, cr := range m.Cameras {
		if len(cr.Actual) != 1 {
			t.Errorf("%s: %d files, want 1 (%s)", cr.Camera, len(cr.Actual), cr.NoFootageNote)
			continue
		}
		a := cr.Actual[0]
		if !cr.ApprovedFrom.Equal(from) || !cr.ApprovedTo.Equal(to) {
			t.Errorf("%s: approved %v..%v in the manifest, want %v..%v", cr.Camera, cr.ApprovedFrom, cr.ApprovedTo, from, to)
		}
		r.checkMP4(cr.Camera, filepath.Join(out, a.File), from, to, a.From, a.To)
	}
	if len(m.Cameras) != 2 {
		t.Errorf("manifest covers %d cameras, want 2", len(m.Cameras))
	}
	return pkg
}

// checkMP4 parses an exported fMP4 in pure Go and checks that its samples
// are the recorded access units of the ring, byte for byte, from the
// keyframe at or before from through the fragment covering to, and that
// its duration is the approved range within one GOP at either end.
func (r *rig) checkMP4(camera, path string, from, to, actFrom, actTo time.Time) {
	t := r.t
	t.Helper()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", camera, err)
	}
	split := moofOffset(file)
	if split <= 0 {
		t.Fatalf("%s: no moof in %s", camera, path)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(file[:split])); err != nil || len(init.Tracks) != 1 {
		t.Fatalf("%s: init segment: %v", camera, err)
	}
	scale := init.Tracks[0].TimeScale
	var parts fmp4.Parts
	if err := parts.Unmarshal(file[split:]); err != nil {
		t.Fatalf("%s: fragments: %v", camera, err)
	}
	var got [][]byte
	var ticks uint64
	for _, p := range parts {
		for _, tr := range p.Tracks {
			for _, s := range tr.Samples {
				got = append(got, s.Payload)
				ticks += uint64(s.Duration)
			}
		}
	}
	if len(parts) == 0 || parts[0].Tracks[0].Samples[0].IsNonSyncSample {
		t.Fatalf("%s: export does not start with a keyframe", camera)
	}

	// What the ring holds for the approved range, found independently.
	rg := r.rec.Ring()
	refs, err := rg.Fragments(camera, from.Add(-time.Minute), to)
	if err != nil {
		t.Fatal(err)
	}
	// Only approved footage leaves: from the first keyframe at or after
	// the approved start, whole fragments that end by the approved end.
	first := -1
	for i, ref := range refs {
		if ref.Keyframe && !ref.Start.Before(from) {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatalf("%s: no keyframe recorded at or after %v", camera, from)
	}
	var want [][]byte
	var sel []ring.FragmentRef
	for _, ref := range refs[first:] {
		if ref.Start.Add(ref.Duration).After(to) {
			break
		}
		sel = append(sel, ref)
		b, err := rg.ReadFragment(ref)
		if err != nil {
			t.Fatal(err)
		}
		var ps fmp4.Parts
		if err := ps.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			for _, tr := range p.Tracks {
				for _, s := range tr.Samples {
					want = append(want, s.Payload)
				}
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d access units exported, %d recorded in the approved range", camera, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: access unit %d differs from the recording", camera, i)
		}
	}

	dur := time.Duration(float64(ticks) / float64(scale) * float64(time.Second))
	approved := to.Sub(from)
	recStart, recEnd := sel[0].Start, sel[len(sel)-1].Start.Add(sel[len(sel)-1].Duration)
	slack := simFrame // one frame of rounding
	if d := recStart.Sub(from); d < 0 || d > gop+slack {
		t.Errorf("%s: export starts %v after the approved start, want inside it and within one GOP", camera, d)
	}
	if d := to.Sub(recEnd); d < 0 || d > gop+slack {
		t.Errorf("%s: export ends %v before the approved end, want inside it and within one GOP", camera, d)
	}
	if dur > approved+slack || dur < approved-2*gop-slack {
		t.Errorf("%s: exported %v for an approved %v", camera, dur, approved)
	}
	if !actFrom.Equal(recStart) || actTo.Sub(recEnd).Abs() > slack {
		t.Errorf("%s: manifest says %v..%v, the ring %v..%v", camera, actFrom, actTo, recStart, recEnd)
	}
	t.Logf("%s: %d access units, %v exported for an approved %v (starts %v early, ends %v late)", camera, len(got),
		dur.Round(time.Millisecond), approved, from.Sub(recStart).Round(time.Millisecond), recEnd.Sub(to).Round(time.Millisecond))
	ffmpegDecodes(t, path, len(got))
}

const simFrame = 40 * time.Millisecond

// moofOffset returns where the first top-level moof box begins.
func moofOffset(b []byte) int {
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if string(b[off+4:off+8]) == "moof" {
			return off
		}
		if size < 8 {
			return -1
		}
		off += size
	}
	return -1
}

// ffmpegDecodes decodes the file with ffmpeg when it is installed and
// checks the frame count; the pure-Go checks above always run.
func ffmpegDecodes(t *testing.T, path string, frames int) {
	t.Helper()
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Log("ffprobe not installed; skipping the decoder check (pure-Go checks ran)")
		return
	}
	out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Errorf("ffprobe %s: %v\n%s", path, err, out)
		return
	}
	if got := strings.TrimSpace(string(out)); got != itoa(frames) {
		t.Errorf("ffprobe decoded %s frames of %s, want %d", got, filepath.Base(path), frames)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
