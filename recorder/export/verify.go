package export

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"mimamori/core"
)

// maxSmallFile bounds manifest.json and manifest.sig in memory.
const maxSmallFile = 16 << 20

// Report is what Verify found. Intact is true only if every check passed:
// the files match the manifest and the manifest's signature is valid
// under the key the package names. That key is the package's own claim;
// Authentic is true only if it is also the appliance key the recipient
// was given (Options.Key).
type Report struct {
	Intact      bool
	Authentic   bool
	KeyGiven    bool     // Options.Key was set
	Problems    []string // human-readable, one per failed check
	Manifest    *Manifest
	Fingerprint string // signer key fingerprint (SHA256:...), if the signature checked out
	ManifestSHA string
	Found       map[string]FoundFile // what the tar held, by name
	Extracted   string               // directory the files were written to, if any
	// Checkpoint is the manifest's ledger checkpoint, its signature
	// checked with the package's signing key; Proven counts the request's
	// ledger entries proven in it.
	Checkpoint *core.Checkpoint
	Proven     int
	// PackageSHA256 and PackageBytes are of the package file itself, as the
	// handover receipt lists it ("" if it could not be read to its end).
	PackageSHA256 string
	PackageBytes  int64
	signer        ssh.PublicKey
}

// FoundFile is one tar entry as read.
type FoundFile struct {
	SHA256 string
	Bytes  int64
}

// ErrDecrypt means the package could not be opened: wrong passphrase or
// identity, or not an age file.
var ErrDecrypt = errors.New("cannot decrypt the package")

func (r *Report) fail(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

// Options say how to open a package and whom to trust.
type Options struct {
	Identities []age.Identity // to decrypt with
	// Key is the fingerprint (SHA256:…) of the appliance key, as printed on
	// the handover receipt. Without it the package cannot be authentic:
	// anyone who can decrypt it could have re-signed it with their own key.
	Key string
	// ExtractDir, if set, receives the checked files, only if the package
	// is intact and authentic.
	ExtractDir string
	// PackageSHA256, if set, is the package's SHA-256 from the handover
	// receipt: the file must be that very package, not another (or a
	// re-encryption of it, which anyone who can decrypt it can make).
	PackageSHA256 string
}

// Verify decrypts a package, checks the signature on the manifest, the
// signer against o.Key and the SHA-256 and size of every file, and
// reports. Files extracted into o.ExtractDir are removed again unless
// the package is intact and authentic. The error is for failures to do
// the check at all (I/O on ExtractDir); everything wrong with the package
// is in Report.Problems.
func Verify(src io.Reader, o Options) (*Report, error) {
	identities, extractDir := o.Identities, o.ExtractDir
	rep := &Report{Found: map[string]FoundFile{}}
	// The package file's own hash, as the receipt lists it: everything
	// read from src passes through it exactly once, in order.
	whole := &hashCounter{h: sha256.New()}
	in := bufio.NewReaderSize(io.TeeReader(src, whole), 1<<20)
	plain, err := age.Decrypt(in, identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			rep.fail("wrong passphrase or identity: %v", ErrDecrypt)
		} else {
			rep.fail("%v: %v", ErrDecrypt, err)
		}
		return rep, nil
	}
	var extracted []string
	cleanup := func() {
		for _, p := range extracted {
			os.Remove(p)
		}
	}
	var manifestBytes, sigBytes []byte
	tr := tar.NewReader(plain)
	buf := make([]byte, 1<<20)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			rep.fail("package is damaged after %d files: %v", len(rep.Found), err)
			break
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg || name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			rep.fail("unexpected entry %q in the package", name)
			continue
		}
		if _, dup := rep.Found[name]; dup {
			rep.fail("file %s appears twice", name)
			continue
		}
		if name == ManifestName || name == SignatureName {
			b, err := io.ReadAll(io.LimitReader(tr, maxSmallFile+1))
			if err != nil {
				rep.fail("package is damaged in %s: %v", name, err)
				break
			}
			if len(b) > maxSmallFile {
				rep.fail("%s is larger than %d bytes", name, maxSmallFile)
				continue
			}
			if name == ManifestName {
				manifestBytes = b
			} else {
				sigBytes = b
			}
			sum := sha256.Sum256(b)
			rep.Found[name] = FoundFile{SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(b))}
			continue
		}
		h := sha256.New()
		var w io.Writer = h
		var out *os.File
		if extractDir != "" {
			p := filepath.Join(extractDir, "."+name+".partial")
			out, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				cleanup()
				return rep, fmt.Errorf("extract %s: %w", name, err)
			}
			extracted = append(extracted, p)
			w = io.MultiWriter(h, out)
		}
		n, err := io.CopyBuffer(w, tr, buf)
		if out != nil {
			if cerr := out.Close(); err == nil && cerr != nil {
				cleanup()
				return rep, fmt.Errorf("extract %s: %w", name, cerr)
			}
		}
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				cleanup()
				return rep, fmt.Errorf("extract %s: %w", name, err)
			}
			rep.fail("package is damaged in %s after %d bytes: %v", name, n, err)
			break
		}
		rep.Found[name] = FoundFile{SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}
	}
	rep.check(manifestBytes, sigBytes)
	rep.checkPackageHash(plain, in, whole, o.PackageSHA256)
	rep.Intact = len(rep.Problems) == 0
	rep.KeyGiven = strings.TrimSpace(o.Key) != ""
	if rep.KeyGiven && rep.Fingerprint != "" {
		if want := NormalizeFingerprint(o.Key); rep.Fingerprint != want {
			rep.fail("signed by %s, not by the appliance key %s: the package is not what the appliance made", rep.Fingerprint, want)
			rep.Intact = false
		}
	}
	rep.checkLedger()
	rep.Intact = rep.Intact && len(rep.Problems) == 0
	rep.Authentic = rep.Intact && rep.KeyGiven
	if extractDir != "" {
		if !rep.Authentic {
			cleanup()
			return rep, nil
		}
		if err := rep.publish(extractDir, manifestBytes, sigBytes); err != nil {
			cleanup()
			return rep, err
		}
	}
	return rep, nil
}

// hashCounter hashes and counts what is written to it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return c.h.Write(b)
}

// checkPackageHash reads the package to its end (past the tar's end the
// decrypted stream and the file may go on: both count) and compares the
// file's SHA-256 with the receipt's, if given.
func (rep *Report) checkPackageHash(plain, in io.Reader, whole *hashCounter, want string) {
	_, err := io.Copy(io.Discard, plain)
	if err == nil {
		_, err = io.Copy(io.Discard, in)
	}
	want = strings.ToLower(strings.TrimSpace(want))
	if err != nil {
		if len(rep.Problems) == 0 {
			rep.fail("the package is damaged after its last file: %v", err)
		}
		if want != "" {
			rep.fail("the package could not be read to its end to compare its SHA-256 with the receipt's")
		}
		return
	}
	rep.PackageSHA256, rep.PackageBytes = hex.EncodeToString(whole.h.Sum(nil)), whole.n
	if want != "" && want != rep.PackageSHA256 {
		rep.fail("the package file's SHA-256 is %s, the receipt's %s: this is not the package that was handed over", rep.PackageSHA256, want)
	}
}

func (rep *Report) check(manifestBytes, sigBytes []byte) {
	if manifestBytes == nil {
		rep.fail("file %s missing", ManifestName)
		return
	}
	sum := sha256.Sum256(manifestBytes)
	rep.ManifestSHA = hex.EncodeToString(sum[:])
	var m Manifest
	if err := json.Unmarshal(manifestBytes, &m); err != nil {
		rep.fail("%s is not valid JSON: %v", ManifestName, err)
		return
	}
	rep.Manifest = &m
	if m.Format != Format && m.Format != FormatV1 {
		rep.fail("%s: format %q, want %q", ManifestName, m.Format, Format)
	}
	if sigBytes == nil {
		rep.fail("file %s missing: the manifest is unsigned", SignatureName)
	} else if fp, err := checkSignature(manifestBytes, sigBytes, &m); err != nil {
		rep.fail("%v", err)
	} else {
		rep.Fingerprint = fp
		rep.signer, _, _, _, _ = ssh.ParseAuthorizedKey([]byte(m.Signer.PublicKey))
	}
	listed := map[string]bool{ManifestName: true, SignatureName: true}
	for _, f := range m.Files {
		listed[f.Name] = true
		got, ok := rep.Found[f.Name]
		switch {
		case !ok:
			rep.fail("file %s missing", f.Name)
		case got.SHA256 != f.SHA256:
			rep.fail("file %s hash mismatch: SHA-256 %s, manifest says %s", f.Name, got.SHA256, f.SHA256)
		case got.Bytes != f.Bytes:
			rep.fail("file %s size mismatch: %d bytes, manifest says %d", f.Name, got.Bytes, f.Bytes)
		}
	}
	var extra []string
	for name := range rep.Found {
		if !listed[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		rep.fail("extra file %s not listed in the manifest", name)
	}
}

// publish renames the checked files into place and writes the manifest
// and signature beside them.
func (rep *Report) publish(dir string, manifestBytes, sigBytes []byte) error {
	for _, f := range rep.Manifest.Files {
		if err := os.Rename(filepath.Join(dir, "."+f.Name+".partial"), filepath.Join(dir, f.Name)); err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestName), manifestBytes, 0o600); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SignatureName), sigBytes, 0o600); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	rep.Extracted = dir
	return nil
}

// NormalizeFingerprint puts a key fingerprint as people type it
// ("SHA256:abc…", "sha256:abc…", "abc…", with spaces) into OpenSSH's form.
func NormalizeFingerprint(s string) string {
	s = strings.Join(strings.Fields(s), "")
	if len(s) > 7 && strings.EqualFold(s[:7], "SHA256:") {
		s = s[7:]
	}
	return "SHA256:" + strings.TrimRight(s, "=")
}

// checkLedger checks the manifest's ledger anchor: the checkpoint must be
// signed by the key that signed the manifest (so, with Options.Key, by
// the appliance) and every entry proven in its tree.
func (rep *Report) checkLedger() {
	m := rep.Manifest
	if m == nil || m.Ledger == nil || rep.signer == nil {
		return
	}
	cp, err := core.ParseCheckpoint([]byte(m.Ledger.Checkpoint), rep.signer)
	if err != nil {
		rep.fail("ledger checkpoint: %v", err)
		return
	}
	rep.Checkpoint = &cp
	var approval *core.Entry
	for _, p := range m.Ledger.Entries {
		if err := core.VerifyEntryProof(cp, p); err != nil {
			rep.fail("ledger entry %d: %v", p.Seq, err)
			continue
		}
		e, _ := p.Decode() // VerifyEntryProof decoded it
		if e.Subject != m.Request.ID && e.Details["request"] != m.Request.ID {
			rep.fail("ledger entry %d (%s %s) is not about request %s", e.Seq, e.Action, e.Subject, m.Request.ID)
			continue
		}
		if e.Action == core.ActionRequestApprove {
			approval = &e
		}
		rep.Proven++
	}
	rep.checkApproval(approval)
}

// checkApproval binds the manifest's claims to the proven approval entry:
// the manager who approved and exactly the ranges approved per camera.
func (rep *Report) checkApproval(e *core.Entry) {
	m := rep.Manifest
	if e == nil {
		rep.fail("the ledger anchor does not prove the approval of request %s", m.Request.ID)
		return
	}
	if e.Actor.Name != "" && e.Actor.Name != m.Approver {
		rep.fail("the manifest says %q approved; the ledger's approval (entry %d) is by %q", m.Approver, e.Seq, e.Actor.Name)
	}
	want, ok := e.Details["ranges"]
	if !ok {
		return // approved by a release before per-camera ranges
	}
	rs := make([]core.FoundRange, len(m.Cameras))
	for i, c := range m.Cameras {
		rs[i] = core.FoundRange{Camera: c.Camera, From: c.ApprovedFrom, To: c.ApprovedTo}
	}
	if got := core.FormatRanges(rs); got != want {
		rep.fail("the manifest's approved ranges (%s) are not those of the ledger's approval, entry %d (%s)", got, e.Seq, want)
	}
}
