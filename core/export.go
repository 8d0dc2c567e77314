package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// exportSlot is the export engine plugged into a Store and the requests
// being exported right now (one export per request at a time).
type exportSlot struct {
	mu      sync.Mutex
	e       Exporter
	running map[string]bool
}

func (s *Store) exportSlot() *exportSlot { return &s.exports }

// SetExporter plugs in the export engine (the recorder's). It may be
// called at any time.
func (s *Store) SetExporter(e Exporter) {
	sl := s.exportSlot()
	sl.mu.Lock()
	sl.e = e
	sl.mu.Unlock()
}

// ErrWrongPassphrase is wrapped (with ErrForbidden) when the export
// passphrase does not match the manager's.
var ErrWrongPassphrase = errors.New("wrong export passphrase")

// ExportRequest writes the export package of an approved request into
// dir (000 §7-4, §9-4; 001 §5-2): operator or manager, request approved
// and its protection chosen by the manager (ProtectPackage). The package
// is encrypted to that key only, so the operator cannot open it. If the
// manager has set an export passphrase, it is the manager's lock on
// exporting and must be given here; it encrypts nothing. A failed attempt
// is ledgered and leaves the request approved, so it can be retried.
func (s *Store) ExportRequest(ctx context.Context, actor Actor, id string, passphrase []byte, dir string,
	progress func(done, total int64)) (Request, error) {
	if !Allowed(actor.Role, ActionRequestExport) {
		return Request{}, s.deny(actor, ActionRequestExport, id)
	}
	// Each attempt counts against the key's change rate: a failing export
	// (a full export_dir) tried again and again must not flood the ledger.
	if err := s.limitAttempt(actor, ActionRequestExport, id); err != nil {
		return Request{}, err
	}
	r, err := s.Request(actor, id)
	if err != nil {
		return Request{}, err
	}
	ranges, err := s.ApprovedRange(actor, id)
	if err != nil {
		return Request{}, err
	}
	if why := s.copyRefusal(actor, r); why != "" {
		return Request{}, s.refuseCopy(actor, ActionRequestExport, r, why)
	}
	cameras, from, to := rangeBounds(ranges)
	if r.Protection == nil {
		err := fmt.Errorf("%w: the manager has not yet chosen how the package of %s is protected (request protect %s)", ErrConflict, id, id)
		return Request{}, s.exportFailed(actor, id, "no-protection", err)
	}
	if s.HasExportPassphrase() {
		waiting, wrong := s.checkExportLock(actor, id, passphrase) // passphrase.go: guessing waits
		if waiting != nil {
			return Request{}, waiting
		}
		if wrong != nil {
			return Request{}, s.exportFailed(actor, id, "wrong-passphrase", wrong)
		}
	}
	sl := s.exportSlot()
	sl.mu.Lock()
	e := sl.e
	busy := sl.running[id]
	if e != nil && !busy {
		sl.running[id] = true
	}
	sl.mu.Unlock()
	if e == nil {
		return Request{}, fmt.Errorf("%w: the export engine is not attached", ErrUnavailable)
	}
	if busy {
		return Request{}, fmt.Errorf("%w: request %s is being exported already", ErrConflict, id)
	}
	defer func() {
		sl.mu.Lock()
		delete(sl.running, id)
		sl.mu.Unlock()
	}()

	job := ExportJob{Request: r, Ranges: ranges, Cameras: cameras, From: from, To: to, Dir: dir, Protection: r.Protection.Method,
		Recipients: []string{r.Protection.Recipient}, Operator: actor.label(), LedgerSeq: s.LedgerHead()}
	if r.Decision != nil {
		job.Approver = r.Decision.By
	}
	if cp, proofs, err := s.requestAnchor(id); err == nil {
		job.Checkpoint, job.Proofs = cp.Text, proofs
	} else {
		s.log.Warn("export: no ledger checkpoint in the manifest", "request", id, "err", err)
	}
	rec, err := e.Export(ctx, job, progress)
	if err != nil {
		err = fmt.Errorf("export of %s failed: %w", id, err)
		return Request{}, s.exportFailed(actor, id, "exporter", err)
	}
	out, err := s.RecordExport(actor, id, rec)
	if err != nil {
		// A package the ledger does not know about must not exist.
		if rerr := os.Remove(rec.Path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			s.log.Error("export: cannot remove unrecorded package", "path", rec.Path, "err", rerr)
		}
		err = fmt.Errorf("export of %s could not be recorded; package removed: %w", id, err)
		return Request{}, s.exportFailed(actor, id, "record", err)
	}
	return out, nil
}

// exportFailed ledgers a failed export attempt and returns cause. The
// request's state is not touched.
func (s *Store) exportFailed(actor Actor, id, stage string, cause error) error {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	_, err := s.mutate(actor, ActionRequestExport, id, func(tx *bolt.Tx) ([]draft, error) {
		r, err := getRequest(tx, id)
		if err != nil {
			return nil, err
		}
		return []draft{{Action: ActionRequestExportFailed, Subject: id, Details: map[string]string{
			"stage": stage, "error": msg, "state": string(r.State)}}}, nil
	})
	if err != nil {
		s.log.Error("ledger: cannot record failed export", "request", id, "err", err)
	}
	return cause
}

// rangeBounds is the cameras (in order of first appearance) and the time
// bounds of ranges.
func rangeBounds(ranges []FoundRange) (cameras []string, from, to time.Time) {
	seen := map[string]bool{}
	for _, g := range ranges {
		if !seen[g.Camera] {
			seen[g.Camera] = true
			cameras = append(cameras, g.Camera)
		}
		if from.IsZero() || g.From.Before(from) {
			from = g.From
		}
		if g.To.After(to) {
			to = g.To
		}
	}
	return cameras, from, to
}

// exportDetails is the ledger entry of a recorded export: what was
// written and how it was protected.
func exportDetails(rec ExportRecord, bytes int64) map[string]string {
	det := map[string]string{"path": rec.Path, "files": strconv.Itoa(len(rec.Files)),
		"bytes": strconv.FormatInt(bytes, 10), "manifest_sha256": rec.ManifestHash}
	if rec.PackageSHA256 != "" {
		det["package_sha256"] = rec.PackageSHA256
		det["package_bytes"] = strconv.FormatInt(rec.PackageBytes, 10)
	}
	if rec.Protection != "" {
		det["protection"], det["recipient"] = rec.Protection, rec.KeyID
	}
	return det
}
