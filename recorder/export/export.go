// Package export builds the export package of an approved request: one
// playable MP4 per camera (bit-exact recorded access units), a manifest
// with every file's SHA-256 signed by the appliance's host key, all in a
// tar encrypted with age to the request's own key (a fresh secret the
// manager holds, or the recipient's public key). Verify checks such a
// package against the appliance key the recipient was given.
package export

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"

	"mimamori/core"
	"mimamori/recorder/clip"
)

// Ext is the package file extension.
const Ext = ".mimamori"

// File is where a package is written. *os.File satisfies it.
type File interface {
	io.Writer
	Sync() error
	Close() error
}

// Exporter implements core.Exporter over recorded footage.
type Exporter struct {
	Source clip.Source
	Signer ssh.Signer // the appliance's host key (keys.LoadOrCreateHostKey); must be ed25519
	Logger *slog.Logger
	Now    func() time.Time

	// Create opens a new file for writing; nil means os.OpenFile with
	// O_CREATE|O_EXCL. Tests inject failing writers here.
	Create func(path string) (File, error)
	// BufferSize is the write buffer; default 4 MiB.
	BufferSize int
	// ApplianceID and Version fill the job's fields when it leaves them empty.
	ApplianceID string
	Version     string
}

var _ core.Exporter = (*Exporter)(nil)

// Errors callers can test with errors.Is.
var (
	ErrNoFootage = errors.New("export: no footage recorded in the approved range")
	ErrBadJob    = errors.New("export: invalid job")
)

func (e *Exporter) log() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

func (e *Exporter) now() time.Time {
	if e.Now == nil {
		return time.Now().UTC()
	}
	return e.Now().UTC()
}

func (e *Exporter) create(path string) (File, error) {
	if e.Create != nil {
		return e.Create(path)
	}
	return os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

// planned is one MP4 to write.
type planned struct {
	name   string
	camera string
	piece  clip.Piece
}

// Export writes <requestID>-<timestamp>.mimamori into job.Dir. On any
// error the partial file is removed and nothing is left behind.
func (e *Exporter) Export(ctx context.Context, job core.ExportJob, progress func(done, total int64)) (core.ExportRecord, error) {
	if e.Source == nil || e.Signer == nil {
		return core.ExportRecord{}, fmt.Errorf("%w: exporter needs a footage source and a signer", ErrBadJob)
	}
	if e.Signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return core.ExportRecord{}, fmt.Errorf("%w: signer key is %s, want ssh-ed25519", ErrBadJob, e.Signer.PublicKey().Type())
	}
	if job.Request.ID == "" || len(jobRanges(job)) == 0 || job.Dir == "" {
		return core.ExportRecord{}, fmt.Errorf("%w: request id, cameras, a range and a directory are required", ErrBadJob)
	}
	for _, rg := range jobRanges(job) {
		if rg.Camera == "" || !rg.From.Before(rg.To) {
			return core.ExportRecord{}, fmt.Errorf("%w: camera %q range %v..%v", ErrBadJob, rg.Camera, rg.From, rg.To)
		}
	}
	if strings.ContainsAny(job.Request.ID, `/\`) || strings.HasPrefix(job.Request.ID, ".") {
		return core.ExportRecord{}, fmt.Errorf("%w: request id %q", ErrBadJob, job.Request.ID)
	}
	recips, err := e.recipients(job)
	if err != nil {
		return core.ExportRecord{}, err
	}
	started := e.now()
	if job.ApplianceID == "" {
		job.ApplianceID = e.ApplianceID
	}
	if job.Version == "" {
		job.Version = e.Version
	}

	m := e.manifestHead(job, started)
	var files []planned
	var total int64
	perCamera := map[string]int{} // files so far, for names cam.mp4, cam-2.mp4, ...
	for _, rg := range jobRanges(job) {
		cam := rg.Camera
		cr := CameraRange{Camera: cam, ApprovedFrom: rg.From.UTC(), ApprovedTo: rg.To.UTC(), Actual: []ActualRange{}}
		// Only approved footage leaves: fragments crossing either edge are
		// left out (footage is never cut inside a fragment), so a file
		// starts at the first keyframe inside the range. Rounding outward
		// to the keyframe before put up to a GOP of unapproved footage in
		// every package.
		pieces, err := clip.PlanWithin(e.Source, cam, rg.From, rg.To)
		if errors.Is(err, clip.ErrNoFootage) {
			cr.NoFootageNote = "no decodable footage inside the approved range (none recorded, or no keyframe in it)"
			m.Cameras = append(m.Cameras, cr)
			continue
		}
		if err != nil {
			return core.ExportRecord{}, fmt.Errorf("export: plan %s: %w", cam, err)
		}
		for _, p := range pieces {
			perCamera[cam]++
			name := cam + ".mp4"
			if n := perCamera[cam]; n > 1 {
				name = fmt.Sprintf("%s-%d.mp4", cam, n)
			}
			files = append(files, planned{name: name, camera: cam, piece: p})
			cr.Actual = append(cr.Actual, ActualRange{File: name, From: p.Start().UTC(), To: p.End().UTC()})
			total += p.Size()
		}
		m.Cameras = append(m.Cameras, cr)
	}
	if len(files) == 0 {
		return core.ExportRecord{}, fmt.Errorf("%w: cameras %s, %s..%s", ErrNoFootage, strings.Join(job.Cameras, ","),
			job.From.UTC().Format(time.RFC3339), job.To.UTC().Format(time.RFC3339))
	}

	name := fmt.Sprintf("%s-%s%s", job.Request.ID, started.Format("20060102T150405Z"), Ext)
	final := filepath.Join(job.Dir, name)
	tmp := filepath.Join(job.Dir, "."+name+".partial")
	f, err := e.create(tmp)
	if err != nil {
		return core.ExportRecord{}, fmt.Errorf("export: cannot create the package in %s: %w", job.Dir, err)
	}
	hf := &hashingFile{File: f, h: sha256.New()}
	rec, err := e.write(ctx, hf, m, files, recips, total, progress)
	if err == nil {
		err = f.Sync()
		if err != nil {
			err = fmt.Errorf("export: flush package to disk: %w", err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("export: close package: %w", cerr)
	}
	if err == nil {
		if err = os.Rename(tmp, final); err != nil {
			err = fmt.Errorf("export: publish package: %w", err)
		} else {
			syncDir(job.Dir)
		}
	}
	if err != nil {
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			e.log().Error("export: cannot remove partial package", "path", tmp, "err", rerr)
		}
		e.log().Warn("export failed", "request", job.Request.ID, "err", err)
		return core.ExportRecord{}, err
	}
	rec.Path = final
	rec.PackageSHA256, rec.PackageBytes = hex.EncodeToString(hf.h.Sum(nil)), hf.n
	e.log().Info("exported", "request", job.Request.ID, "path", final, "files", len(rec.Files), "bytes", total,
		"took", e.now().Sub(started))
	return rec, nil
}

// jobRanges is what to export: the job's approved per-camera ranges, or
// (a job from before ranges) its whole range on each camera.
func jobRanges(job core.ExportJob) []core.FoundRange {
	if len(job.Ranges) > 0 {
		return job.Ranges
	}
	out := make([]core.FoundRange, 0, len(job.Cameras))
	for _, c := range job.Cameras {
		out = append(out, core.FoundRange{Camera: c, From: job.From, To: job.To})
	}
	return out
}

// hashingFile hashes and counts what is written to the package file.
type hashingFile struct {
	File
	h hash.Hash
	n int64
}

func (f *hashingFile) Write(b []byte) (int, error) {
	n, err := f.File.Write(b)
	f.h.Write(b[:n])
	f.n += int64(n)
	return n, err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func (e *Exporter) recipients(job core.ExportJob) ([]age.Recipient, error) {
	// Only the request's own key: a fresh secret the manager holds, or the
	// recipient's public key. Nothing the appliance or its operators know
	// opens the package.
	if len(job.Recipients) == 0 {
		return nil, fmt.Errorf("%w: no recipient key: the manager has not chosen how the package is protected", ErrBadJob)
	}
	var out []age.Recipient
	for _, s := range job.Recipients {
		s = strings.TrimSpace(s)
		var r age.Recipient
		var err error
		if strings.HasPrefix(s, "age1") {
			r, err = age.ParseX25519Recipient(s)
		} else {
			r, err = agessh.ParseRecipient(s)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: recipient %.40q: %v", ErrBadJob, s, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (e *Exporter) manifestHead(job core.ExportJob, started time.Time) Manifest {
	r := job.Request
	pk := e.Signer.PublicKey()
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	m := Manifest{
		Format: Format,
		Request: RequestInfo{ID: r.ID, ReceivedAt: r.ReceivedAt.UTC(), Agency: r.Agency, ApplicantAddress: r.ApplicantAddress,
			Representative: r.Representative, ContactPerson: r.ContactPerson, Phone: r.Phone, Purpose: r.Purpose,
			PurposeReason: r.PurposeReason, Ground: r.Ground, GroundNote: r.GroundNote, Cameras: r.Cameras,
			From: r.From.UTC(), To: r.To.UTC(), Notes: r.Notes, WrittenRef: r.WrittenRef},
		Approver: job.Approver, Operator: job.Operator, StartedAt: started,
		ApplianceID: job.ApplianceID, SoftwareVersion: job.Version, LedgerSeq: job.LedgerSeq,
		Signer:     SignerInfo{Algorithm: pk.Type(), PublicKey: authorized, Fingerprint: ssh.FingerprintSHA256(pk)},
		Encryption: EncryptionInfo{Scheme: "age", Method: job.Protection, Recipients: job.Recipients},
		Notes: []string{"MP4 samples are the recorded access units byte for byte; only fragment sequence numbers and decode times were renumbered so each file starts at zero.",
			"Actual ranges start at the keyframe at or before the approved start and end with the fragment covering the approved end."},
	}
	if r.Decision != nil && r.Decision.Approved {
		at := r.Decision.At.UTC()
		m.ApprovedAt = &at
	}
	if len(job.Checkpoint) > 0 {
		m.Ledger = &LedgerAnchor{Checkpoint: string(job.Checkpoint), Entries: job.Proofs}
	}
	return m
}

// write streams files into an age-encrypted tar on f: the MP4s first
// (hashed on the way), then manifest.json and manifest.sig, so one pass
// over the footage suffices.
func (e *Exporter) write(ctx context.Context, f File, m Manifest, files []planned, recips []age.Recipient,
	total int64, progress func(done, total int64)) (core.ExportRecord, error) {
	bs := e.BufferSize
	if bs <= 0 {
		bs = 4 << 20
	}
	bw := bufio.NewWriterSize(f, bs)
	aw, err := age.Encrypt(bw, recips...)
	if err != nil {
		return core.ExportRecord{}, fmt.Errorf("export: encrypt: %w", err)
	}
	tw := tar.NewWriter(aw)
	var done int64
	report := func(n int64) {
		done += n
		if progress != nil {
			progress(done, total)
		}
	}
	var rec core.ExportRecord
	mtime := m.StartedAt
	for _, pf := range files {
		hdr := &tar.Header{Name: pf.name, Mode: 0o644, Size: pf.piece.Size(), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return rec, fmt.Errorf("export: write %s: %w", pf.name, err)
		}
		h := sha256.New()
		n, err := pf.piece.Copy(ctx, io.MultiWriter(tw, h), report)
		if err != nil {
			return rec, fmt.Errorf("export: write %s: %w", pf.name, err)
		}
		if n != pf.piece.Size() {
			return rec, fmt.Errorf("export: write %s: %d of %d bytes", pf.name, n, pf.piece.Size())
		}
		sum := hex.EncodeToString(h.Sum(nil))
		for _, g := range pf.piece.Gaps() {
			for i := range m.Cameras {
				if m.Cameras[i].Camera == pf.camera {
					m.Cameras[i].Damaged = append(m.Cameras[i].Damaged, DamagedRange{File: pf.name, From: g.From, To: g.To, Reason: g.Reason})
				}
			}
			rec.Damaged = append(rec.Damaged, core.ExportGap{Camera: pf.camera, File: pf.name, From: g.From, To: g.To})
		}
		m.Files = append(m.Files, FileEntry{Name: pf.name, Camera: pf.camera, SHA256: sum, Bytes: n,
			From: pf.piece.Start().UTC(), To: pf.piece.End().UTC(), Fragments: len(pf.piece.Refs)})
		rec.Files = append(rec.Files, core.ExportFile{Name: pf.name, Camera: pf.camera, SHA256: sum, Bytes: n})
	}
	m.FinishedAt = e.now()
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return rec, fmt.Errorf("export: manifest: %w", err)
	}
	mb = append(mb, '\n')
	sb, err := sign(e.Signer, mb)
	if err != nil {
		return rec, err
	}
	for _, x := range []struct {
		name string
		b    []byte
	}{{ManifestName, mb}, {SignatureName, append(sb, '\n')}} {
		if err := tw.WriteHeader(&tar.Header{Name: x.name, Mode: 0o644, Size: int64(len(x.b)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return rec, fmt.Errorf("export: write %s: %w", x.name, err)
		}
		if _, err := tw.Write(x.b); err != nil {
			return rec, fmt.Errorf("export: write %s: %w", x.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return rec, fmt.Errorf("export: finish tar: %w", err)
	}
	if err := aw.Close(); err != nil {
		return rec, fmt.Errorf("export: finish encryption: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return rec, fmt.Errorf("export: write package: %w", err)
	}
	ms := sha256.Sum256(mb)
	rec.ManifestHash = hex.EncodeToString(ms[:])
	return rec, nil
}
