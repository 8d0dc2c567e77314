package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
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

const verifyPass = "export passphrase 2026"

var (
	vManager  = core.Actor{Fingerprint: "SHA256:m", Name: "Manager Sato", Role: core.RoleManager}
	vOperator = core.Actor{Fingerprint: "SHA256:o", Name: "Operator Suzuki", Role: core.RoleOperator}
)

// exportFixture is a real store, a ring with 20 s of two cameras and an
// approved request for 10 s of both.
type exportFixture struct {
	store *core.Store
	ex    *export.Exporter
	id    string
	dir   string
	pass  string // passphrase file
	fp    string // signer fingerprint
}

func newExportFixture(t *testing.T) *exportFixture {
	t.Helper()
	tmp := t.TempDir()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	st, err := core.Open(filepath.Join(tmp, "mimamori.db"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rg, err := ring.Open(ring.Options{Dir: filepath.Join(tmp, "ring"), Capacity: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rg.Close() })
	for _, cam := range []string{"cam1", "cam2"} {
		if _, err := st.AddCamera(vManager, core.Camera{ID: cam, Name: cam, Location: "gate", URL: "rtsp://127.0.0.1/" + cam}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: cam, Start: t0, Duration: 20 * time.Second, Bitrate: 1_000_000}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := st.RegisterRequest(vOperator, core.RequestInput{ApplicantAddress: "1-1 Chuo", Agency: "Yotsukaido Police",
		Representative: "Chief Kato", ContactPerson: "Inspector Mori", Phone: "043-000-0000", Purpose: "investigation",
		Ground: "law", Cameras: []string{"cam1", "cam2"}, From: t0.Add(5 * time.Second), To: t0.Add(15 * time.Second)})
	if err == nil {
		_, err = st.InstructSearch(vManager, r.ID, vOperator.Name)
	}
	if err == nil {
		_, err = st.RecordResult(vOperator, r.ID, "found", "", core.FoundRange{Camera: "cam1", From: r.From, To: r.To},
			core.FoundRange{Camera: "cam2", From: r.From, To: r.To})
	}
	if err == nil {
		_, err = st.Approve(vManager, r.ID, core.ApprovalInput{Judgement: "捜査に必要な範囲に限る"})
	}
	if err == nil {
		err = st.SetExportPassphrase(vManager, []byte(verifyPass))
	}
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ex := &export.Exporter{Source: rg, Signer: signer, ScryptWorkFactor: 12, ApplianceID: "test-box", Version: "test"}
	st.SetExporter(ex)
	f := &exportFixture{store: st, ex: ex, id: r.ID, dir: filepath.Join(tmp, "exports"),
		pass: filepath.Join(tmp, "pass.txt"), fp: ssh.FingerprintSHA256(signer.PublicKey())}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.pass, []byte(verifyPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *exportFixture) export(t *testing.T) core.Request {
	t.Helper()
	r, err := f.store.ExportRequest(context.Background(), vOperator, f.id, []byte(verifyPass), f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyRoundTrip(t *testing.T) {
	f := newExportFixture(t)
	r := f.export(t)
	if r.State != core.StateExported || len(r.Export.Files) != 2 {
		t.Fatalf("after export: %s %+v", r.State, r.Export)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCmd(t, context.Background(), "verify", r.Export.Path, "--passphrase-file", f.pass,
		"--extract", out, "--expect-key", f.fp)
	if code != 0 || stderr != "" {
		t.Fatalf("verify: code %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"request     " + f.id, "Yotsukaido Police", "signed by   " + f.fp, "cam1.mp4", "cam2.mp4",
		"Manager Sato", "Operator Suzuki", "test-box", "package intact", r.Export.ManifestHash} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	for _, file := range r.Export.Files {
		if st, err := os.Stat(filepath.Join(out, file.Name)); err != nil || st.Size() != file.Bytes {
			t.Errorf("extracted %s: %v", file.Name, err)
		}
	}
	// The extracted MP4 decodes.
	if ffmpeg, err := exec.LookPath("ffmpeg"); err != nil {
		t.Log("ffmpeg not installed; skipping the decode check")
	} else if b, err := exec.Command(ffmpeg, "-v", "error", "-xerror", "-i", filepath.Join(out, "cam1.mp4"), "-f", "null", "-").CombinedOutput(); err != nil || len(b) > 0 {
		t.Errorf("ffmpeg decode of the exported cam1.mp4: %v\n%s", err, b)
	}
	// Another appliance's key.
	code, _, stderr = runCmd(t, context.Background(), "verify", r.Export.Path, "--passphrase-file", f.pass, "--expect-key", "SHA256:other")
	if code != 1 || !strings.Contains(stderr, "expected SHA256:other") {
		t.Fatalf("expect-key mismatch: code %d %s", code, stderr)
	}
}

func TestVerifyWrongPassphraseCLI(t *testing.T) {
	f := newExportFixture(t)
	r := f.export(t)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("guess guess guess\n"), 0o600)
	code, _, stderr := runCmd(t, context.Background(), "verify", r.Export.Path, "--passphrase-file", bad)
	if code != 1 || !strings.Contains(stderr, "wrong passphrase") {
		t.Fatalf("wrong passphrase: code %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, context.Background(), "verify", r.Export.Path); code != 2 {
		t.Fatalf("no passphrase: code %d, want 2", code)
	}
}

// reencrypt rewrites a package's tar with edit applied and encrypts it with
// the same passphrase, as an attacker who knows the passphrase could.
func reencrypt(t *testing.T, path string, edit func(name string, b []byte) []byte) string {
	t.Helper()
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	id, _ := age.NewScryptIdentity(verifyPass)
	plain, err := age.Decrypt(src, id)
	if err != nil {
		t.Fatal(err)
	}
	rcp, _ := age.NewScryptRecipient(verifyPass)
	rcp.SetWorkFactor(10)
	var buf bytes.Buffer
	aw, _ := age.Encrypt(&buf, rcp)
	tw := tar.NewWriter(aw)
	tr := tar.NewReader(plain)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		b = edit(h.Name, b)
		tw.WriteHeader(&tar.Header{Name: h.Name, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	tw.Close()
	aw.Close()
	p := filepath.Join(t.TempDir(), filepath.Base(path))
	os.WriteFile(p, buf.Bytes(), 0o600)
	return p
}

func TestVerifyTampered(t *testing.T) {
	f := newExportFixture(t)
	r := f.export(t)
	t.Run("manifest", func(t *testing.T) {
		p := reencrypt(t, r.Export.Path, func(name string, b []byte) []byte {
			if name == export.ManifestName {
				return bytes.Replace(b, []byte("Operator Suzuki"), []byte("Operator Tanaka"), 1)
			}
			return b
		})
		code, stdout, stderr := runCmd(t, context.Background(), "verify", p, "--passphrase-file", f.pass)
		if code != 1 || !strings.Contains(stderr, "signature invalid") || strings.Contains(stdout, "package intact") {
			t.Fatalf("tampered manifest: code %d\n%s\n%s", code, stdout, stderr)
		}
	})
	t.Run("mp4", func(t *testing.T) {
		p := reencrypt(t, r.Export.Path, func(name string, b []byte) []byte {
			if name == "cam2.mp4" {
				b[len(b)-100] ^= 0x40
			}
			return b
		})
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runCmd(t, context.Background(), "verify", p, "--passphrase-file", f.pass, "--extract", out)
		if code != 1 || !strings.Contains(stderr, "file cam2.mp4 hash mismatch") || !strings.Contains(stdout, "MISMATCH") {
			t.Fatalf("tampered mp4: code %d\n%s\n%s", code, stdout, stderr)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Fatalf("%d files extracted from a tampered package", len(entries))
		}
	})
	t.Run("ciphertext", func(t *testing.T) {
		b, _ := os.ReadFile(r.Export.Path)
		b[len(b)/2] ^= 1
		p := filepath.Join(t.TempDir(), "flipped.mimamori")
		os.WriteFile(p, b, 0o600)
		code, _, stderr := runCmd(t, context.Background(), "verify", p, "--passphrase-file", f.pass)
		if code != 1 || !strings.Contains(stderr, "damaged") {
			t.Fatalf("flipped ciphertext: code %d %s", code, stderr)
		}
	})
}

// enospcFile fails like a full disk after limit bytes.
type enospcFile struct {
	*os.File
	limit int
}

func (e *enospcFile) Write(b []byte) (int, error) {
	if len(b) > e.limit {
		n, _ := e.File.Write(b[:e.limit])
		e.limit = 0
		return n, &os.PathError{Op: "write", Path: e.Name(), Err: syscall.ENOSPC}
	}
	e.limit -= len(b)
	return e.File.Write(b)
}

func TestExportFullTarget(t *testing.T) {
	f := newExportFixture(t)
	f.ex.BufferSize = 32 << 10
	f.ex.Create = func(path string) (export.File, error) {
		file, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		return &enospcFile{File: file, limit: 200 << 10}, nil
	}
	_, err := f.store.ExportRequest(context.Background(), vOperator, f.id, []byte(verifyPass), f.dir, nil)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("export to a full disk: %v", err)
	}
	if entries, _ := os.ReadDir(f.dir); len(entries) != 0 {
		t.Fatalf("%d files left in the export dir", len(entries))
	}
	r, _ := f.store.Request(vManager, f.id)
	if r.State != core.StateApproved {
		t.Fatalf("state %s after a failed export", r.State)
	}
	es, _ := f.store.Ledger(vManager, f.store.LedgerHead(), 1)
	if len(es) != 1 || es[0].Action != core.ActionRequestExportFailed {
		t.Fatalf("failure not ledgered: %+v", es)
	}
	// The target directory disappears.
	f.ex.Create = nil
	os.RemoveAll(f.dir)
	_, err = f.store.ExportRequest(context.Background(), vOperator, f.id, []byte(verifyPass), f.dir, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("export into a removed directory: %v", err)
	}
	// Space again: the retry succeeds.
	os.MkdirAll(f.dir, 0o700)
	if r := f.export(t); r.State != core.StateExported {
		t.Fatalf("retry: %s", r.State)
	}
}
