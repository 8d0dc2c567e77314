package core

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Copies that leave and end (000 §7-4, §9-4; 001 §5-2, §5-4): managers and
// operators fetch an export package over the SSH service (scp, sftp),
// read-only, each fetch ledgered with its SHA-256 and byte count; the
// appliance's copy is erased, with a proof entry, after the handover or
// when the request's footage would have expired, unless a hold keeps it.

// ExportPackage is one package the appliance still holds.
type ExportPackage struct {
	Name      string // file name in export_dir
	Path      string
	RequestID string
	SHA256    string // of the package file, as written ("" for packages of older releases)
	Bytes     int64
	At        time.Time
}

// FetchRecord is one fetch of a package. A fetch is two entries, like a
// view: "started" before the first byte leaves (so no crash can hide a
// copy) and "ended" when the file is closed, with what was served.
type FetchRecord struct {
	Name      string
	RequestID string
	Protocol  string // "scp" or "sftp"
	Bytes     int64  // bytes served (re-reads count again)
	SHA256    string // of what was served, when the whole file was served
	Complete  bool   // every byte of the file was served
	// Prefix: when not complete, the first PrefixBytes of the file were
	// served (PrefixSHA256 is their hash): what a client that stopped
	// early holds.
	PrefixBytes  int64
	PrefixSHA256 string
	Started      time.Time
	Ended        time.Time
	Session      string
	// PackageSHA256 is the package as written (ExportPackage.SHA256).
	PackageSHA256 string
}

// BeginFetch ledgers that a package starts to leave (managers and
// operators): the caller serves no byte until it returns nil.
func (s *Store) BeginFetch(actor Actor, f FetchRecord) error {
	if !Allowed(actor.Role, ActionExportFetch) {
		return s.deny(actor, ActionExportFetch, f.Name)
	}
	if f.Protocol != "scp" && f.Protocol != "sftp" {
		return Invalid("protocol", "scp or sftp")
	}
	if f.RequestID != "" {
		var r Request
		err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			r, err = getRequest(tx, f.RequestID)
			return err
		})
		if err != nil {
			return err
		}
		if why := s.copyRefusal(actor, r); why != "" {
			return s.refuseCopy(actor, ActionExportFetch, r, why)
		}
	}
	det := fetchDetails(f)
	det["phase"] = "started"
	_, err := s.mutate(actor, ActionExportFetch, fetchSubject(f), func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: fetchSubject(f), Details: det}}, nil
	})
	return err
}

func fetchSubject(f FetchRecord) string {
	if f.RequestID != "" {
		return f.RequestID
	}
	return f.Name
}

func fetchDetails(f FetchRecord) map[string]string {
	det := map[string]string{"name": f.Name, "protocol": f.Protocol, "started": fmtTime(f.Started)}
	for k, v := range map[string]string{"request": f.RequestID, "session": f.Session, "package_sha256": f.PackageSHA256} {
		if v != "" {
			det[k] = v
		}
	}
	return det
}

// Reasons a package copy is erased.
const (
	EraseHandedOver = "handed-over"     // the request's handover was recorded
	EraseExpired    = "footage-expired" // its footage would have expired by now
	EraseUnrecorded = "unrecorded"      // no request records it: an export cut short by a crash
)

// packageFileName reports whether name is one the exporter writes in
// export_dir: a package (….mimamori) or one being written
// (.….mimamori.partial).
func packageFileName(name string) bool {
	return strings.HasSuffix(name, ".mimamori") && !strings.HasPrefix(name, ".") ||
		strings.HasSuffix(name, ".mimamori.partial") && strings.HasPrefix(name, ".")
}

// packageRequest is the request id in a package's file name
// (<ID>-<YYYYMMDDTHHMMSSZ>.mimamori), or the name when it has none.
func packageRequest(name string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "."), ".partial"), ".mimamori")
	if i := strings.LastIndexByte(base, '-'); i > 0 {
		if _, err := time.Parse("20060102T150405Z", base[i+1:]); err == nil {
			return base[:i]
		}
	}
	return base
}

// EraseUnrecordedPackages erases, each with a proof entry, the package
// files in dir that no request records as a copy the appliance holds: an
// export cut short by a crash leaves its ".NAME.partial", a crash between
// writing a package and recording it leaves the package; neither would
// ever be erased or fetched, and the footage in it would outlive its
// retention. System only, at start, before anyone can export (a running
// export's partial file is not recorded yet either). Other files in dir
// are left alone.
func (s *Store) EraseUnrecordedPackages(actor Actor, dir string) (int, error) {
	if !Allowed(actor.Role, ActionExportErase) {
		return 0, s.deny(actor, ActionExportErase, "")
	}
	if dir == "" {
		return 0, nil
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("export_dir: %w", err)
	}
	held := map[string]bool{}
	err = s.db.View(func(tx *bolt.Tx) error {
		rs, err := listJSON[Request](tx, bRequests)
		for _, r := range rs {
			if p, ok := s.packageOf(r); ok {
				held[p.Name] = true // by name: the directory may have moved
			}
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ent := range ents {
		name := ent.Name()
		path := filepath.Join(dir, name)
		if !packageFileName(name) || held[name] {
			continue
		}
		bytes, err := zeroAndRemove(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("erase unrecorded package %s: %w", path, err)
		}
		id := packageRequest(name)
		_, err = s.mutate(actor, ActionExportErase, id, func(tx *bolt.Tx) ([]draft, error) {
			return []draft{{Subject: id, Details: map[string]string{"name": name, "reason": EraseUnrecorded,
				"result": "erased", "bytes": strconv.FormatInt(bytes, 10)}}}, nil
		})
		if err != nil {
			return n, err
		}
		s.log.Warn("unrecorded export package erased", "path", path, "bytes", bytes)
		n++
	}
	return n, nil
}

// SetExportDir says where the packages are now (the appliance's
// export_dir). A package is recorded with the path it was written to; a
// data directory restored or moved elsewhere keeps its packages' names,
// not their paths, and without this the copies would be neither found
// for fetching nor erased (the proof would say "missing" while the
// footage stayed).
func (s *Store) SetExportDir(dir string) {
	if dir != "" {
		dir = filepath.Clean(dir)
	}
	s.exportDir.Store(&dir)
}

// packageOf is the copy of r's package the appliance holds, if any: in
// the export dir when one is set, else where it was written.
func (s *Store) packageOf(r Request) (ExportPackage, bool) {
	e := r.Export
	if e == nil || !e.ErasedAt.IsZero() || e.Path == "" {
		return ExportPackage{}, false
	}
	path := e.Path
	if d := s.exportDir.Load(); d != nil && *d != "" {
		path = filepath.Join(*d, filepath.Base(e.Path))
	}
	return ExportPackage{Name: filepath.Base(e.Path), Path: path, RequestID: r.ID, SHA256: e.PackageSHA256,
		Bytes: e.PackageBytes, At: e.At}, true
}

// ExportPackages lists the packages the appliance still holds (managers
// and operators). A name is not a copy: fetching one is decided per
// package (ExportPackageByName, BeginFetch: copyRefusal), and refused
// with a ledger entry, so an attempt on another operator's package is on
// record rather than hidden.
func (s *Store) ExportPackages(actor Actor) ([]ExportPackage, error) {
	if err := s.check(actor, ActionExportFetch, ""); err != nil {
		return nil, err
	}
	ps, _, err := s.heldPackages()
	return ps, err
}

// heldPackages is every package the appliance holds, each with its request.
func (s *Store) heldPackages() ([]ExportPackage, []Request, error) {
	var ps []ExportPackage
	var reqs []Request
	err := s.db.View(func(tx *bolt.Tx) error {
		rs, err := listJSON[Request](tx, bRequests)
		for _, r := range rs {
			if p, ok := s.packageOf(r); ok {
				ps, reqs = append(ps, p), append(reqs, r)
			}
		}
		return err
	})
	return ps, reqs, err
}

// ExportPackageByName finds a held package by its file name. A name that
// is no package of this appliance (another file, a path, an erased copy)
// is refused and the refusal ledgered (coalesced, so a client looping
// over names cannot flood the ledger).
func (s *Store) ExportPackageByName(actor Actor, name string) (ExportPackage, error) {
	if err := s.check(actor, ActionExportFetch, name); err != nil {
		return ExportPackage{}, err
	}
	ps, rs, err := s.heldPackages()
	if err != nil {
		return ExportPackage{}, err
	}
	if name != "" && name == filepath.Base(name) {
		for i, p := range ps {
			if p.Name != name {
				continue
			}
			if why := s.copyRefusal(actor, rs[i]); why != "" {
				return ExportPackage{}, s.refuseCopy(actor, ActionExportFetch, rs[i], why)
			}
			return p, nil
		}
	}
	s.RefuseFetch(actor, name, "not a package this appliance holds")
	return ExportPackage{}, fmt.Errorf("%w: %q is not an export package held in export_dir", ErrForbidden, CleanLine(name, 200))
}

// RefuseFetch ledgers a refused fetch (a path outside export_dir, a
// symlink, a write): a denied entry, coalesced per person and reason.
func (s *Store) RefuseFetch(actor Actor, path, why string) {
	s.refuse(actor, string(ActionExportFetch), why, "path", path)
}

// RecordFetch ledgers the end of a fetch BeginFetch began (managers and
// operators), whatever the key's change rate: the bytes have left.
func (s *Store) RecordFetch(actor Actor, f FetchRecord) error {
	if !Allowed(actor.Role, ActionExportFetch) {
		return s.deny(actor, ActionExportFetch, f.Name)
	}
	switch {
	case f.Bytes < 0:
		return Invalid("bytes", "negative")
	case f.Protocol != "scp" && f.Protocol != "sftp":
		return Invalid("protocol", "scp or sftp")
	}
	det := fetchDetails(f)
	det["phase"] = "ended"
	det["bytes"], det["complete"], det["ended"] = strconv.FormatInt(f.Bytes, 10), strconv.FormatBool(f.Complete), fmtTime(f.Ended)
	if f.SHA256 != "" {
		det["sha256"] = f.SHA256
	}
	if !f.Complete && f.PrefixBytes > 0 {
		det["prefix_bytes"], det["prefix_sha256"] = strconv.FormatInt(f.PrefixBytes, 10), f.PrefixSHA256
	}
	subject := fetchSubject(f)
	_, err := s.mutateHappened(actor, ActionExportFetch, subject, func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: subject, Details: det}}, nil
	})
	return err
}

// SweepExportCopies erases the appliance's copies that must go: after the
// handover (unless a manager's hold keeps the footage), or once the
// request's footage would have expired by retention (unless a manager's
// hold or the request's own provisional hold keeps it: heldBeyond). now
// must be a trusted time (the caller's monotonic-anchored clock), never a
// raw wall clock that may have stepped. It returns how many copies were erased. Only the
// system (the appliance's sweeper) erases copies.
func (s *Store) SweepExportCopies(actor Actor, now time.Time) (int, error) {
	if !Allowed(actor.Role, ActionExportErase) {
		return 0, s.deny(actor, ActionExportErase, "")
	}
	return s.sweepExports(now, "")
}

// eraseHandedOver erases the copy of request id right after its handover.
func (s *Store) eraseHandedOver(id string) {
	if _, err := s.sweepExports(s.TrustedNow(), id); err != nil {
		s.log.Error("export copy: erasure after handover failed", "request", id, "err", err)
	}
}

func (s *Store) sweepExports(now time.Time, only string) (int, error) {
	now = now.UTC()
	type due struct {
		r      Request
		reason string
	}
	var todo []due
	retention := s.policy.Retention()
	err := s.db.View(func(tx *bolt.Tx) error {
		rs, err := listJSON[Request](tx, bRequests)
		if err != nil {
			return err
		}
		hs, err := listJSON[Hold](tx, bHolds)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if only != "" && r.ID != only {
				continue
			}
			if _, ok := s.packageOf(r); !ok {
				continue
			}
			from, to := r.From, r.To
			if ar := r.ApprovedRanges(); len(ar) > 0 {
				_, from, to = rangeBounds(ar)
			}
			switch {
			case r.Provision != nil:
				if !heldBeyond(hs, r, from, to, now, true) {
					todo = append(todo, due{r, EraseHandedOver})
				}
			case retention > 0 && !now.Before(to.Add(retention)):
				if !heldBeyond(hs, r, from, to, now, false) {
					todo = append(todo, due{r, EraseExpired})
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range todo {
		if err := s.eraseCopy(d.r, d.reason, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// heldBeyond: an active hold covers some of r's footage. A provisional
// hold keeps footage for its own request's paperwork: r's own count until
// the handover (then the paperwork is done); another request's never do,
// or an operator could keep a handed-over copy on the appliance, and
// fetchable, by registering a second request over the same footage (which
// needs no approval). A manager's hold counts.
func heldBeyond(hs []Hold, r Request, from, to, now time.Time, handedOver bool) bool {
	for _, h := range hs {
		if !h.ActiveAt(now) || !h.From.Before(to) || !from.Before(h.To) {
			continue
		}
		if h.Kind == HoldProvisional && (handedOver || h.RequestID != r.ID) {
			continue
		}
		for _, c := range r.Cameras {
			if c == h.Camera {
				return true
			}
		}
	}
	return false
}

// eraseCopy overwrites the package file with zeros, syncs, removes it and
// then records the proof. A crash before the record leaves the file gone
// or zeroed; the next sweep records it then ("missing").
func (s *Store) eraseCopy(r Request, reason string, now time.Time) error {
	p, _ := s.packageOf(r)
	path := p.Path
	result, bytes := "erased", int64(0)
	n, err := zeroAndRemove(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		result = "missing" // erased before a crash, or removed outside the appliance
	case err != nil:
		return fmt.Errorf("erase export copy %s: %w", path, err)
	default:
		bytes = n
	}
	actor := SystemActor("custody")
	_, err = s.mutate(actor, ActionExportErase, r.ID, func(tx *bolt.Tx) ([]draft, error) {
		cur, err := getRequest(tx, r.ID)
		if err != nil {
			return nil, err
		}
		if cur.Export == nil || !cur.Export.ErasedAt.IsZero() {
			return nil, nil // recorded already
		}
		cur.Export.ErasedAt, cur.Export.EraseReason = now, reason
		if err := putRequest(tx, cur); err != nil {
			return nil, err
		}
		return []draft{{Subject: r.ID, Details: map[string]string{"name": filepath.Base(path), "reason": reason,
			"result": result, "bytes": strconv.FormatInt(bytes, 10), "package_sha256": cur.Export.PackageSHA256,
			"erased_at": fmtTime(now)}}}, nil
	})
	if err == nil {
		s.log.Info("export copy erased", "request", r.ID, "path", path, "reason", reason, "result", result)
	}
	return err
}

// zeroAndRemove overwrites a regular file with zeros, syncs it, unlinks it
// and syncs its directory. A symlink is removed, never followed.
func zeroAndRemove(path string) (int64, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, err
	}
	var n int64
	if fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		zero := make([]byte, 1<<20)
		for n < fi.Size() {
			k := int64(len(zero))
			if rest := fi.Size() - n; rest < k {
				k = rest
			}
			w, err := f.WriteAt(zero[:k], n)
			n += int64(w)
			if err != nil {
				f.Close()
				return n, err
			}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return n, err
		}
		if err := f.Close(); err != nil {
			return n, err
		}
	}
	if err := os.Remove(path); err != nil {
		return n, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return n, nil
}
