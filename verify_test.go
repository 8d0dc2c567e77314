package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/keys"
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
	store  *core.Store
	ex     *export.Exporter
	id     string
	dir    string
	secret *age.X25519Identity // the package secret the manager was shown
	key    string              // file holding it, as the recipient saves it
	fp     string              // the appliance key's fingerprint
	op     core.Actor          // the operator the search was instructed to: the one who exports (000 §9-4)
}

func newExportFixture(t *testing.T) *exportFixture { return newExportFixtureIn(t, t.TempDir()) }

// newExportFixtureIn keeps the store and the host key in a data directory
// laid out like the appliance's (DIR/mimamori.db, DIR/ssh/host_ed25519), so
// "ledger verify --data DIR" can check it once the store is closed.
func newExportFixtureIn(t *testing.T, tmp string) *exportFixture {
	t.Helper()
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
	// The search is instructed to an enrolled operator's key.
	opKey, err := keys.GenerateUserKey(filepath.Join(tmp, "operator"))
	if err != nil {
		t.Fatal(err)
	}
	op, err := st.EnrollKey(core.SystemActor("test"), vOperator.Name, core.RoleOperator, opKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.RegisterRequest(vOperator, core.RequestInput{ApplicantAddress: "1-1 Chuo", Agency: "Yotsukaido Police",
		Representative: "Chief Kato", ContactPerson: "Inspector Mori", Phone: "043-000-0000", Purpose: "investigation",
		Ground: "law", Cameras: []string{"cam1", "cam2"}, From: t0.Add(5 * time.Second), To: t0.Add(15 * time.Second)})
	if err == nil {
		_, err = st.InstructSearch(vManager, r.ID, vOperator.Name)
	}
	if err == nil {
		_, err = st.RecordResult(op.Actor(), r.ID, "found", "", core.FoundRange{Camera: "cam1", From: r.From, To: r.To},
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
	signer, _, _, err := keys.LoadOrCreateHostKey(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetLogSigner("test-box", signer); err != nil {
		t.Fatal(err)
	}
	ex := &export.Exporter{Source: rg, Signer: signer, ApplianceID: "test-box", Version: "test"}
	st.SetExporter(ex)
	k, err := st.ProtectPackage(vManager, r.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := age.ParseX25519Identity(k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	f := &exportFixture{store: st, ex: ex, id: r.ID, dir: filepath.Join(tmp, "exports"), secret: secret,
		key: filepath.Join(tmp, "key.txt"), fp: ssh.FingerprintSHA256(signer.PublicKey()), op: op.Actor()}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.key, []byte(k.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *exportFixture) export(t *testing.T) core.Request {
	t.Helper()
	r, err := f.store.ExportRequest(context.Background(), f.op, f.id, []byte(verifyPass), f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyRoundTrip(t *testing.T) {
	f := newExportFixture(t)
	r := f.export(t)
	if r.State != core.StateExported || len(r.Export.Files) != 2 || r.Export.Protection != core.ProtectApprovalSecret {
		t.Fatalf("after export: %s %+v", r.State, r.Export)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCmd(t, context.Background(), "verify", r.Export.Path, "--identity", f.key,
		"--extract", out, "--key", f.fp)
	if code != 0 || stderr != "" {
		t.Fatalf("verify: code %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"request     " + f.id, "Yotsukaido Police", "signed by   " + f.fp, "cam1.mp4", "cam2.mp4",
		"Manager Sato", "Operator Suzuki", "test-box", "package authentic and intact", r.Export.ManifestHash, "approval-secret",
		"ledger      checkpoint mimamori/test-box size "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	// The manifest anchors the request in the ledger: its entries (the
	// registration, instruction, result, approval, protection) proven in
	// the checkpoint signed by the appliance key.
	if !strings.Contains(stdout, " of the request's entries proven") || strings.Contains(stdout, ", 0 of the request's") {
		t.Errorf("ledger anchor not verified:\n%s", stdout)
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
	code, _, stderr = runCmd(t, context.Background(), "verify", r.Export.Path, "--identity", f.key, "--key", "SHA256:other")
	if code != 1 || !strings.Contains(stderr, "not by the appliance key SHA256:other") {
		t.Fatalf("key mismatch: code %d %s", code, stderr)
	}
	// No key: the hashes may be checked, but it is not reported authentic.
	code, stdout, stderr = runCmd(t, context.Background(), "verify", r.Export.Path, "--identity", f.key)
	if code != 3 || !strings.Contains(stdout, "NOT authenticated") || strings.Contains(stdout, "package authentic") {
		t.Fatalf("no key: code %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, _ := runCmd(t, context.Background(), "verify", r.Export.Path, "--identity", f.key, "--extract", out); code != 2 {
		t.Fatalf("--extract without --key: code %d, want 2", code)
	}
}

func TestVerifyWrongIdentityCLI(t *testing.T) {
	f := newExportFixture(t)
	r := f.export(t)
	other, _ := age.GenerateX25519Identity()
	bad := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(bad, []byte(other.String()+"\n"), 0o600)
	code, _, stderr := runCmd(t, context.Background(), "verify", r.Export.Path, "--identity", bad, "--key", f.fp)
	if code != 1 || !strings.Contains(stderr, "wrong passphrase or identity") {
		t.Fatalf("wrong identity: code %d %s", code, stderr)
	}
	// The old manager passphrase opens nothing: it only locks exporting.
	pass := filepath.Join(t.TempDir(), "pass.txt")
	os.WriteFile(pass, []byte(verifyPass+"\n"), 0o600)
	if code, _, _ := runCmd(t, context.Background(), "verify", r.Export.Path, "--passphrase-file", pass, "--key", f.fp); code != 1 {
		t.Fatalf("export passphrase opened the package: code %d", code)
	}
	if code, _, _ := runCmd(t, context.Background(), "verify", r.Export.Path); code != 2 {
		t.Fatalf("no identity: code %d, want 2", code)
	}
}

// reencrypt rewrites a package's tar with edit applied and encrypts it to
// the same key, as anyone who can open the package (the recipient) could.
func (f *exportFixture) reencrypt(t *testing.T, path string, edit func(name string, b []byte) []byte) string {
	t.Helper()
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	plain, err := age.Decrypt(src, f.secret)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	aw, _ := age.Encrypt(&buf, f.secret.Recipient())
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
		p := f.reencrypt(t, r.Export.Path, func(name string, b []byte) []byte {
			if name == export.ManifestName {
				return bytes.Replace(b, []byte("Operator Suzuki"), []byte("Operator Tanaka"), 1)
			}
			return b
		})
		code, stdout, stderr := runCmd(t, context.Background(), "verify", p, "--identity", f.key, "--key", f.fp)
		if code != 1 || !strings.Contains(stderr, "signature invalid") || strings.Contains(stdout, "package authentic") {
			t.Fatalf("tampered manifest: code %d\n%s\n%s", code, stdout, stderr)
		}
	})
	t.Run("mp4", func(t *testing.T) {
		p := f.reencrypt(t, r.Export.Path, func(name string, b []byte) []byte {
			if name == "cam2.mp4" {
				b[len(b)-100] ^= 0x40
			}
			return b
		})
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runCmd(t, context.Background(), "verify", p, "--identity", f.key, "--key", f.fp, "--extract", out)
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
		code, _, stderr := runCmd(t, context.Background(), "verify", p, "--identity", f.key, "--key", f.fp)
		if code != 1 || !strings.Contains(stderr, "damaged") {
			t.Fatalf("flipped ciphertext: code %d %s", code, stderr)
		}
	})
	// The forgery the issue found: footage changed, the manifest re-hashed
	// and re-signed with the forger's own key. Consistent in itself, so
	// only the appliance key, given separately, exposes it.
	t.Run("re-signed with another key", func(t *testing.T) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		forger, _ := ssh.NewSignerFromKey(priv)
		var mp4 []byte
		p := f.reencrypt(t, r.Export.Path, func(name string, b []byte) []byte {
			if name == "cam1.mp4" {
				b[len(b)/2] ^= 1
				mp4 = b
			}
			return b
		})
		var manifest []byte
		p = f.reencrypt(t, p, func(name string, b []byte) []byte {
			switch name {
			case export.ManifestName:
				var m export.Manifest
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(mp4)
				m.Files[0].SHA256 = hex.EncodeToString(sum[:])
				pk := forger.PublicKey()
				m.Signer = export.SignerInfo{Algorithm: pk.Type(), Fingerprint: ssh.FingerprintSHA256(pk),
					PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))}
				manifest, _ = json.MarshalIndent(m, "", "  ")
				return manifest
			case export.SignatureName:
				sig, _ := forger.Sign(rand.Reader, manifest)
				pk := forger.PublicKey()
				out, _ := json.Marshal(export.Signature{Format: sig.Format, Fingerprint: ssh.FingerprintSHA256(pk),
					PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))), Signature: base64.StdEncoding.EncodeToString(sig.Blob)})
				return out
			}
			return b
		})
		code, stdout, stderr := runCmd(t, context.Background(), "verify", p, "--identity", f.key, "--key", f.fp)
		if code != 1 || !strings.Contains(stderr, "not by the appliance key") || strings.Contains(stdout, "package authentic") {
			t.Fatalf("re-signed package with --key: code %d\n%s\n%s", code, stdout, stderr)
		}
		code, stdout, stderr = runCmd(t, context.Background(), "verify", p, "--identity", f.key)
		if code == 0 || strings.Contains(stdout, "package authentic") {
			t.Fatalf("re-signed package without --key: code %d\n%s\n%s", code, stdout, stderr)
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
	_, err := f.store.ExportRequest(context.Background(), f.op, f.id, []byte(verifyPass), f.dir, nil)
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
	_, err = f.store.ExportRequest(context.Background(), f.op, f.id, []byte(verifyPass), f.dir, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("export into a removed directory: %v", err)
	}
	// Space again: the retry succeeds.
	os.MkdirAll(f.dir, 0o700)
	if r := f.export(t); r.State != core.StateExported {
		t.Fatalf("retry: %s", r.State)
	}
}

// TestVerifyBindsTheManifestToTheLedger: the inclusion proofs in a
// manifest must be the request's own entries, among them its approval,
// and the manifest's approver and approved ranges must be the ledger's —
// else a package (even one signed with the appliance key) does not pass.
func TestVerifyBindsTheManifestToTheLedger(t *testing.T) {
	f := newExportFixture(t)
	other, err := f.store.RegisterRequest(vOperator, core.RequestInput{ApplicantAddress: "2-2 Chuo", Agency: "Another Agency",
		Representative: "Chief Ueda", ContactPerson: "Sgt Oka", Phone: "043-111-1111", Purpose: "investigation",
		Ground: "law", Cameras: []string{"cam1"}, From: time.Now().Add(-50 * time.Minute), To: time.Now().Add(-40 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.store.Request(vManager, f.id)
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := f.store.ApprovedRange(vManager, f.id)
	if err != nil {
		t.Fatal(err)
	}
	seqsOf := func(id string, actions ...core.Action) []uint64 {
		es, err := f.store.Ledger(vManager, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, e := range es {
			if e.Subject == id && slices.Contains(actions, e.Action) {
				out = append(out, e.Seq)
			}
		}
		return out
	}
	steps := []core.Action{core.ActionRequestRegister, core.ActionRequestInstruct, core.ActionRequestResult, core.ActionRequestApprove}
	job := func(rs []core.FoundRange, approver string, seqs []uint64) core.ExportJob {
		cp, proofs, err := f.store.InclusionProofs(vManager, seqs)
		if err != nil {
			t.Fatal(err)
		}
		return core.ExportJob{Request: r, Ranges: rs, Cameras: []string{"cam1", "cam2"}, From: r.From, To: r.To,
			Protection: r.Protection.Method, Recipients: []string{r.Protection.Recipient}, Checkpoint: cp.Text, Proofs: proofs,
			Dir: f.dir, Operator: vOperator.Name, Approver: approver}
	}
	wider := slices.Clone(ranges)
	wider[0].From = wider[0].From.Add(-5 * time.Second)
	for _, c := range []struct {
		name, problem string
		job           core.ExportJob
	}{
		{"as the appliance makes it", "", job(ranges, vManager.Name, seqsOf(f.id, steps...))},
		{"another request's entries", "is not about request " + f.id,
			job(ranges, vManager.Name, append(seqsOf(f.id, steps...), seqsOf(other.ID, core.ActionRequestRegister)...))},
		{"no approval proven", "does not prove the approval", job(ranges, vManager.Name, seqsOf(f.id, core.ActionRequestRegister))},
		{"more footage than approved", "are not those of the ledger's approval", job(wider, vManager.Name, seqsOf(f.id, steps...))},
		{"another approver", "the ledger's approval (entry", job(ranges, "Manager Tanaka", seqsOf(f.id, steps...))},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, err := f.ex.Export(context.Background(), c.job, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer os.Remove(rec.Path)
			code, stdout, stderr := runCmd(t, context.Background(), "verify", rec.Path, "--identity", f.key, "--key", f.fp)
			switch {
			case c.problem == "" && code != 0:
				t.Fatalf("a package as the appliance makes it: exit %d\n%s%s", code, stdout, stderr)
			case c.problem != "" && (code != 1 || !strings.Contains(stderr, c.problem)):
				t.Fatalf("exit %d, want 1 naming %q:\n%s%s", code, c.problem, stdout, stderr)
			}
		})
	}
}

// The recipient holds a package and its handover receipt, whose SHA-256
// names the very file handed over. verify prints the file's own SHA-256
// and, given the receipt's, refuses any other file: here the same package
// re-encrypted (as anyone able to decrypt it can), which is otherwise
// authentic and intact, since its content is the appliance's.
func TestVerifyChecksThePackageAgainstTheReceipt(t *testing.T) {
	f := newExportFixture(t)
	r := f.export(t)
	sum := r.Export.PackageSHA256
	if len(sum) != 64 {
		t.Fatalf("export record without the package's SHA-256: %+v", r.Export)
	}
	code, stdout, stderr := runCmd(t, context.Background(), "verify", r.Export.Path, "--identity", f.key, "--key", f.fp,
		"--package-sha256", strings.ToUpper(sum))
	if code != 0 || !strings.Contains(stdout, "package     sha256 "+sum) {
		t.Fatalf("the receipt's package: code %d\n%s\n%s", code, stdout, stderr)
	}
	other := f.reencrypt(t, r.Export.Path, func(_ string, b []byte) []byte { return b })
	code, stdout, stderr = runCmd(t, context.Background(), "verify", other, "--identity", f.key, "--key", f.fp, "--package-sha256", sum)
	if code != 1 || !strings.Contains(stderr, "not the package that was handed over") || strings.Contains(stdout, "package authentic") {
		t.Fatalf("another file than the receipt's: code %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, _ := runCmd(t, context.Background(), "verify", other, "--identity", f.key, "--key", f.fp); code != 0 ||
		strings.Contains(stdout, "package     sha256 "+sum) {
		t.Fatalf("re-encrypted package without the receipt's hash: code %d\n%s", code, stdout)
	}
}

// A forged package's manifest is printed before its signature is judged:
// its strings reach the reader's terminal cleaned, without escape
// sequences or bidirectional controls.
func TestVerifyPrintsNoEscapesFromAForgedManifest(t *testing.T) {
	f := newExportFixture(t)
	r := f.export(t)
	p := f.reencrypt(t, r.Export.Path, func(name string, b []byte) []byte {
		if name == export.ManifestName {
			return bytes.Replace(b, []byte("Operator Suzuki"), []byte(`\u001b]0;PWNED\u0007\u001b[2J\u202eOperator`), 1)
		}
		return b
	})
	code, stdout, stderr := runCmd(t, context.Background(), "verify", p, "--identity", f.key, "--key", f.fp)
	if code != 1 || !strings.Contains(stdout, "PWNED") {
		t.Fatalf("forged manifest: code %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.ContainsAny(stdout+stderr, "\x1b\x07\u202e") {
		t.Fatalf("escape or bidi control printed from a forged manifest: %q", stdout)
	}
}

// The recipient compares the approved range with what the package holds
// (which starts at a keyframe, so before it): both must be printed to the
// precision they have, or "approved 10:00:00" hides that 10:00:00.5 was
// approved and the footage begins half a second before.
func TestVerifyPrintsRangesToTheirPrecision(t *testing.T) {
	from := time.Date(2026, 12, 1, 5, 52, 40, 500_000_000, time.UTC)
	rep := &export.Report{Manifest: &export.Manifest{Cameras: []export.CameraRange{{Camera: "cam2",
		ApprovedFrom: from, ApprovedTo: from.Add(2700 * time.Millisecond),
		Actual: []export.ActualRange{{File: "cam2.mp4", From: from.Add(-1300 * time.Millisecond), To: from.Add(2800 * time.Millisecond)}}}}}}
	var b bytes.Buffer
	printReport(&b, rep)
	for _, want := range []string{"cam2 2026-12-01T05:52:40.5Z .. 2026-12-01T05:52:43.2Z", "cam2: 2026-12-01T05:52:39.2Z .. 2026-12-01T05:52:43.3Z"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("verify's report lacks %q:\n%s", want, b.String())
		}
	}
}
