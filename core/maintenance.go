package core

import (
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Maintenance kinds (001 §8) and disposal (001 §5-4).
const (
	MaintInspection    = "inspection"
	MaintReplacement   = "replacement"
	MaintCameraRemoval = "camera-removal"
	MaintSignRemoval   = "sign-removal"
	MaintSignPosted    = "sign-posted" // a sign (form 1, 000 §4-3; 001 §2(2)) was put up
	MaintDisposal      = "disposal"
)

// MaintenanceKinds are the kinds RecordMaintenance accepts.
var MaintenanceKinds = []string{MaintInspection, MaintReplacement, MaintCameraRemoval, MaintSignRemoval, MaintSignPosted}

// MaintenanceRecord is an inspection, replacement, removal or media
// disposal record.
type MaintenanceRecord struct {
	ID        string    `json:"ID"`
	Kind      string    `json:"Kind"`
	Camera    string    `json:"Camera"` // empty for appliance-wide work
	Date      time.Time `json:"Date"`
	Performer string    `json:"Performer"` // who did the work (contractor, staff)
	Notes     string    `json:"Notes"`
	Media     string    `json:"Media"`  // disposal: which medium (serial, label)
	Method    string    `json:"Method"` // disposal: how it was made unreadable
	CreatedBy string    `json:"CreatedBy"`
	CreatedAt time.Time `json:"CreatedAt"`
}

// MaintenanceInput records maintenance work.
type MaintenanceInput struct {
	Kind      string // inspection | replacement | camera-removal | sign-removal | sign-posted
	Camera    string
	Date      time.Time // zero = now
	Performer string
	Notes     string
}

// DisposalInput records disposal of a storage medium, made unreadable.
type DisposalInput struct {
	Media     string
	Method    string // e.g. "physically destroyed", "overwritten with zeros"
	Date      time.Time
	Performer string
	Notes     string
}

// RecordMaintenance records inspection, replacement, removal or sign work
// (technician, manager). A camera removal is the manager's decision and
// goes through RemoveCamera's rules (recording stops); a sign posted or
// removed updates the register's sign in the same transaction.
func (s *Store) RecordMaintenance(actor Actor, in MaintenanceInput) (MaintenanceRecord, error) {
	scope, err := s.authorize(actor, ActionMaintenance, in.Camera)
	if err != nil {
		return MaintenanceRecord{}, err
	}
	if scope.InspectionsOnly && in.Kind != MaintInspection {
		// Technicians record inspections only (README, SPEC roles).
		return MaintenanceRecord{}, s.deny(actor, ActionMaintenance, in.Kind)
	}
	if err := oneOf("kind", in.Kind, MaintenanceKinds); err != nil {
		return MaintenanceRecord{}, err
	}
	switch in.Kind {
	case MaintCameraRemoval, MaintSignRemoval, MaintSignPosted:
		if in.Camera == "" {
			return MaintenanceRecord{}, Invalid("camera", "required for "+in.Kind)
		}
	}
	if in.Camera != "" {
		if err := validID("camera", in.Camera); err != nil {
			return MaintenanceRecord{}, err
		}
	}
	if err := validName("performer", in.Performer, 500); err != nil {
		return MaintenanceRecord{}, err
	}
	if err := validText("notes", in.Notes, 8000); err != nil {
		return MaintenanceRecord{}, err
	}
	if err := checkEventDate("date", in.Date, s.nowUTC()); err != nil { // dates.go
		return MaintenanceRecord{}, err
	}
	rec := MaintenanceRecord{Kind: in.Kind, Camera: in.Camera, Date: in.Date, Performer: in.Performer, Notes: in.Notes}
	if in.Kind == MaintCameraRemoval {
		reason := in.Notes
		if strings.TrimSpace(reason) == "" {
			return MaintenanceRecord{}, Invalid("notes", "a camera removal needs the reason (the decision to stop operating it)")
		}
		return s.removeCamera(actor, in.Camera, reason, &rec)
	}
	return s.putMaintenance(actor, ActionMaintenance, rec)
}

// RecordDisposal records disposal of a medium "made unreadable" (manager).
func (s *Store) RecordDisposal(actor Actor, in DisposalInput) (MaintenanceRecord, error) {
	if !Allowed(actor.Role, ActionDisposal) {
		return MaintenanceRecord{}, s.deny(actor, ActionDisposal, in.Media)
	}
	for _, f := range []struct{ n, v string }{{"media", in.Media}, {"method", in.Method}, {"performer", in.Performer}} {
		if err := validName(f.n, f.v, 500); err != nil {
			return MaintenanceRecord{}, err
		}
	}
	if err := validText("notes", in.Notes, 8000); err != nil {
		return MaintenanceRecord{}, err
	}
	if err := checkEventDate("date", in.Date, s.nowUTC()); err != nil { // dates.go
		return MaintenanceRecord{}, err
	}
	rec := MaintenanceRecord{Kind: MaintDisposal, Date: in.Date, Performer: in.Performer, Notes: in.Notes,
		Media: in.Media, Method: in.Method}
	return s.putMaintenance(actor, ActionDisposal, rec)
}

func (s *Store) putMaintenance(actor Actor, action Action, rec MaintenanceRecord) (MaintenanceRecord, error) {
	now := s.nowUTC()
	_, err := s.mutate(actor, action, rec.Camera, func(tx *bolt.Tx) ([]draft, error) {
		r := rec
		d, err := s.putMaintenanceTx(tx, actor, action, &r, now)
		if err != nil {
			return nil, err
		}
		drafts := []draft{d}
		if r.Kind == MaintSignPosted || r.Kind == MaintSignRemoval {
			sd, err := setSign(tx, r, now)
			if err != nil {
				return nil, err
			}
			drafts = append(drafts, sd)
		}
		rec = r
		return drafts, nil
	})
	if err != nil {
		return MaintenanceRecord{}, err
	}
	return rec, nil
}

// putMaintenanceTx stores rec (id, dates, author) and returns its entry.
func (s *Store) putMaintenanceTx(tx *bolt.Tx, actor Actor, action Action, rec *MaintenanceRecord, now time.Time) (draft, error) {
	if rec.Date.IsZero() {
		rec.Date = now
	}
	rec.Date = rec.Date.UTC()
	rec.CreatedBy, rec.CreatedAt = actor.label(), now
	if rec.Camera != "" {
		if _, err := getCamera(tx, rec.Camera); err != nil {
			return draft{}, err
		}
	}
	id, err := nextID(tx, "M", now)
	if err != nil {
		return draft{}, err
	}
	rec.ID = id
	if err := putJSON(tx.Bucket(bMaintenance), id, *rec); err != nil {
		return draft{}, err
	}
	det := map[string]string{"kind": rec.Kind, "camera": rec.Camera, "date": fmtTime(rec.Date),
		"performer": rec.Performer, "notes": rec.Notes}
	if rec.Kind == MaintDisposal {
		det["media"], det["method"] = rec.Media, rec.Method
	}
	return draft{Action: action, Subject: id, Details: det}, nil
}

// setSign records a sign put up or taken down in the register.
func setSign(tx *bolt.Tx, rec MaintenanceRecord, now time.Time) (draft, error) {
	c, err := getCamera(tx, rec.Camera)
	if err != nil {
		return draft{}, err
	}
	old := c
	c.SignPosted = rec.Kind == MaintSignPosted
	c.SignChangedAt, c.UpdatedAt = rec.Date, now
	if err := putCamera(tx, c); err != nil {
		return draft{}, err
	}
	d := cameraDiff(old, c)
	d["maintenance"] = rec.ID
	return draft{Action: ActionCameraUpdate, Subject: c.ID, Details: d}, nil
}

// MaintenanceRecords lists maintenance and disposal records, newest first.
func (s *Store) MaintenanceRecords(actor Actor) ([]MaintenanceRecord, error) {
	out, err := readAll[MaintenanceRecord](s, actor, ActionMaintenanceRead, bMaintenance)
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, err
}
