package export_test

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
	"encoding/pem"
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
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/export"
	"mimamori/recorder/ring"
)

// recipientID stands for the package secret the manager handed over.
var recipientID = func() *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		panic(err)
	}
	return id
}()

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
	return core.ExportJob{Request: r, Cameras: cams, From: r.From, To: r.To, Dir: dir,
		Protection: core.ProtectApprovalSecret, Recipients: []string{recipientID.Recipient().String()},
		Operator: "operator1", Approver: "manager1", LedgerSeq: 42, ApplianceID: "test-appliance", Version: "test"}
}

func newExporter(rg *ring.Ring, signer ssh.Signer) *export.Exporter {
	return &export.Exporter{Source: rg, Signer: signer}
}

func secret() []age.Identity { return []age.Identity{recipientID} }

// verifyFile verifies path, trusting the appliance key key ("" for none).
func verifyFile(t testing.TB, path string, ids []age.Identity, key, extract string) *export.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := export.Verify(f, export.Options{Identities: ids, Key: key, ExtractDir: extract})
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
	rep := verifyFile(t, rec.Path, secret(), ssh.FingerprintSHA256(signer.PublicKey()), out)
	if !rep.Intact || !rep.Authentic {
		t.Fatalf("fresh package not intact and authentic: %v", rep.Problems)
	}
	sum, size := fileSHA256(t, rec.Path)
	if rec.PackageSHA256 != sum || rec.PackageBytes != size {
		t.Fatalf("package hash %s %d, file is %s %d", rec.PackageSHA256, rec.PackageBytes, sum, size)
	}
	if e := rep.Manifest.Encryption; e.Method != core.ProtectApprovalSecret || e.Passphrase ||
		len(e.Recipients) != 1 || e.Recipients[0] != recipientID.Recipient().String() {
		t.Fatalf("encryption %+v", e)
	}
	if rep.Fingerprint != ssh.FingerprintSHA256(signer.PublicKey()) || rep.ManifestSHA != rec.ManifestHash {
		t.Fatalf("fingerprint %s, manifest %s", rep.Fingerprint, rep.ManifestSHA)
	}
	m := rep.Manifest
	if m.Request.ID != "R-20261101-0001" || m.Approver != "manager1" || m.Operator != "operator1" || m.LedgerSeq != 42 ||
		len(m.Cameras) != 2 || !m.Cameras[0].Actual[0].From.Equal(t0.Add(2*time.Second)) || !m.Cameras[0].Actual[0].To.Equal(t0.Add(6*time.Second)) {
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
	rep := verifyFile(t, rec.Path, secret(), "", "")
	if !rep.Intact || rep.Manifest.Cameras[1].NoFootageNote == "" {
		t.Fatalf("report: %v %+v", rep.Problems, rep.Manifest.Cameras)
	}
	_, err = newExporter(rg, newSigner(t)).Export(context.Background(), job(t.TempDir(), "cam9"), nil)
	if !errors.Is(err, export.ErrNoFootage) {
		t.Fatalf("export of a camera with nothing recorded: %v", err)
	}
}

func TestVerifyWrongIdentity(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	signer := newSigner(t)
	rec, err := newExporter(rg, signer).Export(context.Background(), job(t.TempDir(), "cam1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	out := t.TempDir()
	rep := verifyFile(t, rec.Path, []age.Identity{other}, ssh.FingerprintSHA256(signer.PublicKey()), out)
	if rep.Intact || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "wrong passphrase") {
		t.Fatalf("problems: %v", rep.Problems)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("%d files extracted from a package that did not open", len(entries))
	}
}

// retar decrypts a package, lets edit change its entries, and encrypts it
// again to the same key: an attacker who can open the package (the
// recipient, or anyone who learnt the secret).
func retar(t *testing.T, path string, edit func(name string, b []byte) (string, []byte)) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plain, err := age.Decrypt(f, secret()...)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	aw, err := age.Encrypt(&out, recipientID.Recipient())
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
	signer := newSigner(t)
	key := ssh.FingerprintSHA256(signer.PublicKey())
	rec, err := newExporter(rg, signer).Export(context.Background(), job(t.TempDir(), "cam1"), nil)
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
			rep := verifyFile(t, p, secret(), key, out)
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
		rep := verifyFile(t, p2, secret(), key, "")
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
	if rep := verifyFile(t, rec.Path, []age.Identity{id}, "", ""); !rep.Intact {
		t.Fatalf("recipient cannot open: %v", rep.Problems)
	}
	if rep := verifyFile(t, rec.Path, secret(), "", ""); rep.Intact {
		t.Fatal("another request's secret opened a package encrypted to a key")
	}
}

// The real age tool opens a package made for an ssh-ed25519 recipient
// with that SSH key: the recipient needs no mimamori to get at the files.
func TestAgeCLIOpensPackageForSSHKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spk, _ := ssh.NewPublicKey(pub)
	block, err := ssh.MarshalPrivateKey(priv, "police@example")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	rg := filledRing(t, map[string]time.Duration{"cam1": 4 * time.Second})
	j := job(t.TempDir(), "cam1")
	j.Protection, j.Recipients = core.ProtectRecipientKey, []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk)))}
	rec, err := newExporter(rg, newSigner(t)).Export(context.Background(), j, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Pure Go: the SSH key opens it (age's own ssh identity code).
	id, err := agessh.ParseIdentity(pem.EncodeToMemory(block))
	if err != nil {
		t.Fatal(err)
	}
	if rep := verifyFile(t, rec.Path, []age.Identity{id}, "", ""); !rep.Intact {
		t.Fatalf("ssh key cannot open: %v", rep.Problems)
	}
	agePath, err := exec.LookPath("age")
	if err != nil {
		t.Skip("the age tool is not installed (apt-get install age); the pure-Go check above opened the package with the same key")
	}
	out, err := exec.Command(agePath, "-d", "-i", keyFile, rec.Path).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	tr := tar.NewReader(bytes.NewReader(out))
	found := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		found[h.Name] = b
	}
	if _, ok := found[export.ManifestName]; !ok {
		t.Fatalf("age output holds %d entries, no manifest", len(found))
	}
	sum := sha256.Sum256(found["cam1.mp4"])
	if hex.EncodeToString(sum[:]) != rec.Files[0].SHA256 {
		t.Fatal("cam1.mp4 decrypted by age does not match the manifest")
	}
}

func fileSHA256(t testing.TB, path string) (string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b))
}

// resign is retar with the footage changed and the manifest re-hashed and
// re-signed with the attacker's own key: a forgery consistent in itself.
func resign(t *testing.T, path string, attacker ssh.Signer) string {
	t.Helper()
	var mp4 []byte
	p := retar(t, path, func(n string, b []byte) (string, []byte) {
		if n == "cam1.mp4" {
			b[len(b)/2] ^= 1
			mp4 = b
		}
		return n, b
	})
	var manifest []byte
	return retar(t, p, func(n string, b []byte) (string, []byte) {
		switch n {
		case export.ManifestName:
			var m export.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(mp4)
			m.Files[0].SHA256 = hex.EncodeToString(sum[:])
			pk := attacker.PublicKey()
			m.Signer = export.SignerInfo{Algorithm: pk.Type(), PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))),
				Fingerprint: ssh.FingerprintSHA256(pk)}
			manifest, _ = json.MarshalIndent(m, "", "  ")
			return n, manifest
		case export.SignatureName:
			sig, err := attacker.Sign(rand.Reader, manifest)
			if err != nil {
				t.Fatal(err)
			}
			pk := attacker.PublicKey()
			out, _ := json.Marshal(export.Signature{Format: sig.Format, Fingerprint: ssh.FingerprintSHA256(pk),
				PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))), Signature: base64.StdEncoding.EncodeToString(sig.Blob)})
			return n, out
		}
		return n, b
	})
}

// A package changed and re-signed with another key is consistent in
// itself: only the appliance key, given separately, shows the forgery.
func TestVerifyResignedPackage(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 6 * time.Second})
	signer := newSigner(t)
	rec, err := newExporter(rg, signer).Export(context.Background(), job(t.TempDir(), "cam1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	forged := resign(t, rec.Path, newSigner(t))
	rep := verifyFile(t, forged, secret(), "", "")
	if !rep.Intact || rep.Authentic {
		t.Fatalf("forgery without a key: intact %v authentic %v %v", rep.Intact, rep.Authentic, rep.Problems)
	}
	out := t.TempDir()
	rep = verifyFile(t, forged, secret(), ssh.FingerprintSHA256(signer.PublicKey()), out)
	if rep.Intact || rep.Authentic || !strings.Contains(strings.Join(rep.Problems, "\n"), "not by the appliance key") {
		t.Fatalf("forgery with the appliance key: intact %v authentic %v %v", rep.Intact, rep.Authentic, rep.Problems)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("%d files extracted from a forgery", len(entries))
	}
	// The key as people type it.
	fp := ssh.FingerprintSHA256(signer.PublicKey())
	for _, k := range []string{fp, " " + fp + "\n", strings.TrimPrefix(fp, "SHA256:"), "sha256:" + strings.TrimPrefix(fp, "SHA256:")} {
		if rep := verifyFile(t, rec.Path, secret(), k, ""); !rep.Authentic {
			t.Fatalf("key %q: %v", k, rep.Problems)
		}
	}
}

// A byte flipped in a sealed block of the ring: the export still succeeds,
// its manifest and record name the missing interval, and the package
// verifies.
func TestExportSkipsDamagedFragment(t *testing.T) {
	dir := t.TempDir()
	rg, err := ring.Open(ring.Options{Dir: dir, Capacity: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: 10 * time.Second, Bitrate: 1_000_000}); err != nil {
		t.Fatal(err)
	}
	refs, err := rg.Fragments("cam1", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var bad ring.FragmentRef
	for _, r := range refs {
		if r.Start.Sub(t0) >= 4*time.Second && r.Keyframe {
			bad = r
			break
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "ring.dat"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	at := int64(bad.Block)*(4<<20) + bad.Offset + bad.Length/2
	f.ReadAt(b, at)
	b[0] ^= 0x01
	f.WriteAt(b, at)
	f.Close()

	signer := newSigner(t)
	rec, err := newExporter(rg, signer).Export(context.Background(), job(t.TempDir(), "cam1"), nil)
	if err != nil {
		t.Fatalf("export with a damaged fragment: %v", err)
	}
	if len(rec.Damaged) != 1 || rec.Damaged[0].Camera != "cam1" || !rec.Damaged[0].From.Equal(bad.Start) {
		t.Fatalf("export record names %+v, want the damaged fragment at %s", rec.Damaged, bad.Start)
	}
	rep := verifyFile(t, rec.Path, secret(), ssh.FingerprintSHA256(signer.PublicKey()), "")
	if !rep.Intact || !rep.Authentic {
		t.Fatalf("package not intact and authentic: %v", rep.Problems)
	}
	d := rep.Manifest.Cameras[0].Damaged
	if len(d) != 1 || d[0].File != "cam1.mp4" || !d[0].From.Equal(bad.Start) || !d[0].To.After(bad.Start) || d[0].Reason != "damaged" {
		t.Fatalf("manifest damaged ranges %+v, want the fragment at %s", d, bad.Start)
	}
}

// Only approved footage leaves. An approved range that starts and ends
// inside GOPs exports from the first keyframe inside it to the last whole
// fragment inside it; rounding outward to the keyframe before put a GOP
// of footage nobody approved into the package.
func TestExportHoldsOnlyTheApprovedRange(t *testing.T) {
	rg := filledRing(t, map[string]time.Duration{"cam1": 10 * time.Second})
	signer := newSigner(t)
	j := job(t.TempDir(), "cam1")
	j.From, j.To = t0.Add(2500*time.Millisecond), t0.Add(5500*time.Millisecond)
	j.Request.From, j.Request.To = j.From, j.To
	rec, err := newExporter(rg, signer).Export(context.Background(), j, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyFile(t, rec.Path, secret(), ssh.FingerprintSHA256(signer.PublicKey()), t.TempDir())
	if !rep.Intact || !rep.Authentic {
		t.Fatalf("package not intact: %v", rep.Problems)
	}
	c := rep.Manifest.Cameras[0]
	if len(c.Actual) != 1 {
		t.Fatalf("actual ranges %+v", c.Actual)
	}
	a := c.Actual[0]
	if a.From.Before(j.From) || a.To.After(j.To) {
		t.Fatalf("exported %s..%s, approved %s..%s: footage outside the approval left",
			a.From.Format(time.StampMilli), a.To.Format(time.StampMilli), j.From.Format(time.StampMilli), j.To.Format(time.StampMilli))
	}
	if !a.From.Equal(t0.Add(3*time.Second)) || !a.To.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("exported %s..%s, want the whole GOPs inside: 3 s..5 s", a.From.Format(time.StampMilli), a.To.Format(time.StampMilli))
	}

	// A range inside one GOP holds no keyframe: nothing of that camera
	// leaves, and the manifest says why.
	j.From, j.To = t0.Add(3200*time.Millisecond), t0.Add(3800*time.Millisecond)
	j.Request.From, j.Request.To = j.From, j.To
	if _, err := newExporter(rg, signer).Export(context.Background(), j, nil); !errors.Is(err, export.ErrNoFootage) {
		t.Fatalf("a range without a keyframe: %v, want ErrNoFootage", err)
	}
}
