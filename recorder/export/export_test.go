package export_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/export"
	"mimamori/recorder/ring"
)

const pass = "correct horse battery staple"

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func newSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func filledRing(t testing.TB, cams map[string]time.Duration) *ring.Ring {
	t.Helper()
	rg, err := ring.Open(ring.Options{Dir: t.TempDir(), Capacity: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rg.Close() })
	for cam, d := range cams {
		if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: cam, Start: t0, Duration: d, Bitrate: 1_000_000}); err != nil {
			t.Fatal(err)
		}
	}
	return rg
}

func job(dir string, cams ...string) core.ExportJob {
	r := core.Request{ID: "R-20261101-0001", State: core.StateApproved,
		RequestInput: core.RequestInput{Agency: "Chiba Pref. Police", Representative: "Sato", ContactPerson: "Suzuki",
			Phone: "043-000-0000", ApplicantAddress: "Chiba", Purpose: "investigation", Ground: "investigation",
			Cameras: cams, From: t0.Add(2 * time.Second), To: t0.Add(6 * time.Second)},
		Decision: &core.Decision{Approved: true, By: "manager1", At: t0.Add(time.Hour)}}
	return core.ExportJob{Request: r, Cameras: cams, From: r.From, To: r.To, Passphrase: []byte(pass), Dir: dir,
		Operator: "operator1", Approver: "manager1", LedgerSeq: 42, ApplianceID: "test-appliance", Version: "test"}
}

func newExporter(rg *ring.Ring, signer ssh.Signer) *export.Exporter {
	return &export.Exporter{Source: rg, Signer: signer, ScryptWorkFactor: 10}
}

func identity(t testing.TB, p string) []age.Identity {
	t.Helper()
	id, err := age.NewScryptIdentity(p)
	if err != nil {
		t.Fatal(err)
	}
	return []age.Identity{id}
}

func verifyFile(t testing.TB, path string, ids []age.Identity, extract string) *export.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := export.Verify(f, ids, extract)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestExportRoundTrip(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second, "cam2": 10 * time.Second})
	signer := newSigner(t)
	dir := t.TempDir()
	var last, total int64
	rec, err := newExporter(rg, signer).Export(context.Background(), job(dir, "cam1", "cam2"), func(d, tot int64) { last, total = d, tot })
	if err != nil {
		t.Fatal(err)
	}
	if last != total || total == 0 {
		t.Fatalf("progress ended at %d of %d", last, total)
	}
	if !strings.HasPrefix(filepath.Base(rec.Path), "R-20261101-0001-") || filepath.Ext(rec.Path) != export.Ext {
		t.Fatalf("package name %s", rec.Path)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in the export dir, want only the package", len(entries))
	}
	if len(rec.Files) != 2 || rec.Files[0].Name != "cam1.mp4" || rec.Files[1].Name != "cam2.mp4" || len(rec.ManifestHash) != 64 {
		t.Fatalf("record: %+v", rec)
	}
	out := t.TempDir()
	rep := verifyFile(t, rec.Path, identity(t, pass), out)
	if !rep.Intact {
		t.Fatalf("fresh package not intact: %v", rep.Problems)
	}
	if rep.Fingerprint != ssh.FingerprintSHA256(signer.PublicKey()) || rep.ManifestSHA != rec.ManifestHash {
		t.Fatalf("fingerprint %s, manifest %s", rep.Fingerprint, rep.ManifestSHA)
	}
	m := rep.Manifest
	if m.Request.ID != "R-20261101-0001" || m.Approver != "manager1" || m.Operator != "operator1" || m.LedgerSeq != 42 ||
		len(m.Cameras) != 2 || m.Cameras[0].Actual[0].From.After(t0.Add(2*time.Second)) || m.Cameras[0].Actual[0].To.Before(t0.Add(6*time.Second)) {
		t.Fatalf("manifest: %+v", m)
	}
	for _, f := range rec.Files {
		b, err := os.ReadFile(filepath.Join(out, f.Name))
		if err != nil || int64(len(b)) != f.Bytes {
			t.Fatalf("extracted %s: %d bytes, %v", f.Name, len(b), err)
		}
	}
	for _, n := range []string{export.ManifestName, export.SignatureName} {
		if _, err := os.Stat(filepath.Join(out, n)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportSkipsCameraWithoutFootage(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	rec, err := newExporter(rg, newSigner(t)).Export(context.Background(), job(t.TempDir(), "cam1", "cam9"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Files) != 1 {
		t.Fatalf("files: %+v", rec.Files)
	}
	rep := verifyFile(t, rec.Path, identity(t, pass), "")
	if !rep.Intact || rep.Manifest.Cameras[1].NoFootageNote == "" {
		t.Fatalf("report: %v %+v", rep.Problems, rep.Manifest.Cameras)
	}
	_, err = newExporter(rg, newSigner(t)).Export(context.Background(), job(t.TempDir(), "cam9"), nil)
	if !errors.Is(err, export.ErrNoFootage) {
		t.Fatalf("export of a camera with nothing recorded: %v", err)
	}
}

func TestVerifyWrongPassphrase(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	rec, err := newExporter(rg, newSigner(t)).Export(context.Background(), job(t.TempDir(), "cam1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	rep := verifyFile(t, rec.Path, identity(t, "not the passphrase"), out)
	if rep.Intact || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "wrong passphrase") {
		t.Fatalf("problems: %v", rep.Problems)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("%d files extracted from a package that did not open", len(entries))
	}
}

// retar decrypts a package, lets edit change its entries, and encrypts it
// again with the same passphrase: an attacker who knows the passphrase.
func retar(t *testing.T, path string, edit func(name string, b []byte) (string, []byte)) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plain, err := age.Decrypt(f, identity(t, pass)...)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	aw, err := age.Encrypt(&out, r)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(aw)
	tr := tar.NewReader(plain)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name, nb := edit(h.Name, b)
		if nb == nil {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(nb))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(nb)
	}
	tw.Close()
	aw.Close()
	p := filepath.Join(t.TempDir(), "tampered"+export.Ext)
	if err := os.WriteFile(p, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyDetectsTampering(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	rec, err := newExporter(rg, newSigner(t)).Export(context.Background(), job(t.TempDir(), "cam1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(string, []byte) (string, []byte)
		want string
	}{
		{"mp4 byte flipped", func(n string, b []byte) (string, []byte) {
			if n == "cam1.mp4" {
				b[len(b)/2] ^= 1
			}
			return n, b
		}, "file cam1.mp4 hash mismatch"},
		{"manifest edited", func(n string, b []byte) (string, []byte) {
			if n == export.ManifestName {
				b = bytes.Replace(b, []byte("Chiba Pref. Police"), []byte("Chiba Pref. Pol1ce"), 1)
			}
			return n, b
		}, "signature invalid"},
		{"mp4 removed", func(n string, b []byte) (string, []byte) {
			if n == "cam1.mp4" {
				return n, nil
			}
			return n, b
		}, "file cam1.mp4 missing"},
		{"signature removed", func(n string, b []byte) (string, []byte) {
			if n == export.SignatureName {
				return n, nil
			}
			return n, b
		}, "manifest.sig missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := retar(t, rec.Path, c.edit)
			out := t.TempDir()
			rep := verifyFile(t, p, identity(t, pass), out)
			if rep.Intact || !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
				t.Fatalf("problems %q, want one containing %q", rep.Problems, c.want)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Fatalf("%d files left in the extract dir of a bad package", len(entries))
			}
		})
	}
	t.Run("extra file", func(t *testing.T) {
		// The MP4 renamed: one file missing, one not in the manifest.
		p2 := retar(t, rec.Path, func(n string, b []byte) (string, []byte) {
			if n == "cam1.mp4" {
				return "cam1-2.mp4", b
			}
			return n, b
		})
		rep := verifyFile(t, p2, identity(t, pass), "")
		all := strings.Join(rep.Problems, "\n")
		if rep.Intact || !strings.Contains(all, "extra file cam1-2.mp4") || !strings.Contains(all, "file cam1.mp4 missing") {
			t.Fatalf("problems: %q", rep.Problems)
		}
	})
}

// failingFile is a real file that reports ENOSPC after limit bytes, like a
// full export disk.
type failingFile struct {
	*os.File
	limit int64
}

func (f *failingFile) Write(b []byte) (int, error) {
	if int64(len(b)) > f.limit {
		n, _ := f.File.Write(b[:f.limit])
		f.limit = 0
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.limit -= int64(len(b))
	return f.File.Write(b)
}

func TestExportDiskFullLeavesNothing(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	dir := t.TempDir()
	ex := newExporter(rg, newSigner(t))
	ex.BufferSize = 64 << 10
	ex.Create = func(path string) (export.File, error) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		return &failingFile{File: f, limit: 300 << 10}, nil
	}
	_, err := ex.Export(context.Background(), job(dir, "cam1"), nil)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "cam1.mp4") {
		t.Fatalf("export to a full disk: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("%d files left behind after a failed export", len(entries))
	}
}

func TestExportMissingDir(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	dir := filepath.Join(t.TempDir(), "gone")
	_, err := newExporter(rg, newSigner(t)).Export(context.Background(), job(dir, "cam1"), nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "cannot create the package") {
		t.Fatalf("export into a missing directory: %v", err)
	}
}

func TestExportCancelled(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := newExporter(rg, newSigner(t)).Export(ctx, job(dir, "cam1"), func(done, total int64) {
		// Cancel after the init and the first fragment: nine fragments
		// remain, so the cancellation must win (it used to race them).
		if calls++; calls == 2 {
			if done >= total {
				t.Errorf("the first fragment was the whole export (%d of %d bytes)", done, total)
			}
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("%d files left behind after a cancelled export", len(entries))
	}
}

func TestExportToRecipientKey(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 4 * time.Second})
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	j := job(t.TempDir(), "cam1")
	j.Recipients = []string{id.Recipient().String()}
	rec, err := newExporter(rg, newSigner(t)).Export(context.Background(), j, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep := verifyFile(t, rec.Path, []age.Identity{id}, ""); !rep.Intact {
		t.Fatalf("recipient cannot open: %v", rep.Problems)
	}
	if rep := verifyFile(t, rec.Path, identity(t, pass), ""); rep.Intact {
		t.Fatal("passphrase opened a package encrypted to a key")
	}
}
