package core

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Physical custody (000 §7-3, 001 §5-1), the inspection schedule (001
// §8-1) and layout plans (001 §2-1). The appliance cannot lock a cabinet;
// it keeps the record of who says what is where, and when that changed.

// CustodyRecord is one statement of where the recorder is kept. The
// newest is the current state; older ones are its history.
type CustodyRecord struct {
	ID          string    `json:"ID"`
	Location    string    `json:"Location"`    // where the recorder is installed (room)
	Cabinet     string    `json:"Cabinet"`     // the lockable cabinet it is in
	KeyHolder   string    `json:"KeyHolder"`   // who keeps the cabinet key (000 §7-3: the manager)
	AntiRemoval string    `json:"AntiRemoval"` // how the cabinet is kept from being carried off (001 §5-1)
	Notes       string    `json:"Notes,omitempty"`
	Since       time.Time `json:"Since"` // when this arrangement took effect
	CreatedBy   string    `json:"CreatedBy"`
	CreatedAt   time.Time `json:"CreatedAt"`
}

// CustodyInput is what the manager records.
type CustodyInput struct {
	Location, Cabinet, KeyHolder, AntiRemoval, Notes string
	Since                                            time.Time // zero = now
}

// RecordCustody records where the recorder is kept and who holds the
// cabinet key (manager). Every change is a new record and ledger entry.
func (s *Store) RecordCustody(actor Actor, in CustodyInput) (CustodyRecord, error) {
	if !Allowed(actor.Role, ActionCustody) {
		return CustodyRecord{}, s.deny(actor, ActionCustody, "")
	}
	for _, f := range []struct{ n, v string }{{"location", in.Location}, {"cabinet", in.Cabinet},
		{"key_holder", in.KeyHolder}, {"anti_removal", in.AntiRemoval}} {
		if err := validName(f.n, f.v, 500); err != nil {
			return CustodyRecord{}, err
		}
	}
	if err := validText("notes", in.Notes, 4000); err != nil {
		return CustodyRecord{}, err
	}
	now := s.nowUTC()
	if in.Since.IsZero() {
		in.Since = now
	}
	if err := checkDate("since", in.Since, now, windowEvent); err != nil { // dates.go
		return CustodyRecord{}, err
	}
	var out CustodyRecord
	_, err := s.mutate(actor, ActionCustody, "", func(tx *bolt.Tx) ([]draft, error) {
		id, err := nextID(tx, "C", now)
		if err != nil {
			return nil, err
		}
		rec := CustodyRecord{ID: id, Location: strings.TrimSpace(in.Location), Cabinet: strings.TrimSpace(in.Cabinet),
			KeyHolder: strings.TrimSpace(in.KeyHolder), AntiRemoval: strings.TrimSpace(in.AntiRemoval), Notes: in.Notes,
			Since: in.Since.UTC(), CreatedBy: actor.label(), CreatedAt: now}
		det := map[string]string{"location": rec.Location, "cabinet": rec.Cabinet, "key_holder": rec.KeyHolder,
			"anti_removal": rec.AntiRemoval, "since": fmtTime(rec.Since), "notes": rec.Notes}
		if prev, ok := latestCustody(tx); ok {
			det["previous"] = prev.ID
		}
		if err := putJSON(tx.Bucket(bCustody), id, rec); err != nil {
			return nil, err
		}
		out = rec
		return []draft{{Subject: id, Details: det}}, nil
	})
	return out, err
}

func latestCustody(tx *bolt.Tx) (CustodyRecord, bool) {
	recs, err := listJSON[CustodyRecord](tx, bCustody)
	if err != nil || len(recs) == 0 {
		return CustodyRecord{}, false
	}
	sortCustody(recs)
	return recs[0], true
}

func sortCustody(recs []CustodyRecord) {
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].CreatedAt.Equal(recs[j].CreatedAt) {
			return recs[i].CreatedAt.After(recs[j].CreatedAt)
		}
		return recs[i].ID > recs[j].ID
	})
}

// Custody lists the custody records, current first (manager, technician).
func (s *Store) Custody(actor Actor) ([]CustodyRecord, error) {
	out, err := readAll[CustodyRecord](s, actor, ActionMaintenanceRead, bCustody)
	sortCustody(out)
	return out, err
}

// Inspection schedule.

// Inspection states.
const (
	InspectionOK           = "ok"
	InspectionDueSoonState = "due"     // due within InspectionDueSoon
	InspectionOverdue      = "overdue" // past due
)

// InspectionDueSoon is how early an inspection shows as due.
const InspectionDueSoon = 14 * 24 * time.Hour

// InspectionDue is one camera's place in the schedule.
type InspectionDue struct {
	Camera string
	Last   time.Time // last inspection of this camera or of the whole appliance; installation if none
	Due    time.Time
	State  string
}

// InspectionSchedule is each active camera's next inspection under the
// policy's interval (manager, technician). An appliance-wide inspection
// (no camera) counts for every camera. Empty when the policy has none.
func (s *Store) InspectionSchedule(actor Actor) ([]InspectionDue, error) {
	if err := s.check(actor, ActionMaintenanceRead, ""); err != nil {
		return nil, err
	}
	var out []InspectionDue
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = s.inspectionSchedule(tx)
		return err
	})
	return out, err
}

func (s *Store) inspectionSchedule(tx *bolt.Tx) ([]InspectionDue, error) {
	days := s.policy.InspectionIntervalDays
	if days <= 0 {
		return nil, nil
	}
	interval := time.Duration(days) * 24 * time.Hour
	cams, err := listJSON[Camera](tx, bCameras)
	if err != nil {
		return nil, err
	}
	recs, err := listJSON[MaintenanceRecord](tx, bMaintenance)
	if err != nil {
		return nil, err
	}
	var wide time.Time
	last := map[string]time.Time{}
	for _, m := range recs {
		if m.Kind != MaintInspection {
			continue
		}
		if m.Camera == "" {
			if m.Date.After(wide) {
				wide = m.Date
			}
		} else if m.Date.After(last[m.Camera]) {
			last[m.Camera] = m.Date
		}
	}
	now := s.nowUTC()
	out := make([]InspectionDue, 0, len(cams))
	for _, c := range cams {
		if c.Status == CameraRemoved {
			continue
		}
		l := c.CreatedAt
		if t := last[c.ID]; t.After(l) {
			l = t
		}
		if wide.After(l) {
			l = wide
		}
		d := InspectionDue{Camera: c.ID, Last: l, Due: l.Add(interval), State: InspectionOK}
		switch {
		case now.After(d.Due):
			d.State = InspectionOverdue
		case now.After(d.Due.Add(-InspectionDueSoon)):
			d.State = InspectionDueSoonState
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Camera < out[j].Camera })
	return out, nil
}

// Layout plans (配置図, 001 §2-1 and note ※1): the drawing of camera
// positions, fields of view and signs, kept with the register. The file
// is stored in the database; its SHA-256 goes into the ledger.

// MaxLayoutPlanBytes bounds one layout plan file.
const MaxLayoutPlanBytes = 8 << 20

// LayoutPlan is a filed layout plan (metadata; the file is kept apart).
type LayoutPlan struct {
	ID        string    `json:"ID"`
	Site      string    `json:"Site"`
	FileName  string    `json:"FileName"`
	SHA256    string    `json:"SHA256"`
	Bytes     int64     `json:"Bytes"`
	Cameras   []string  `json:"Cameras,omitempty"` // cameras the plan shows
	Notes     string    `json:"Notes,omitempty"`
	CreatedBy string    `json:"CreatedBy"`
	CreatedAt time.Time `json:"CreatedAt"`
}

// LayoutInput is a plan to file.
type LayoutInput struct {
	Site     string
	FileName string
	Content  []byte
	Cameras  []string
	Notes    string
}

// FileLayoutPlan keeps a site's layout plan (manager). A newer plan for
// the same site supersedes the older one, which stays on file.
func (s *Store) FileLayoutPlan(actor Actor, in LayoutInput) (LayoutPlan, error) {
	if !Allowed(actor.Role, ActionLayoutPlan) {
		return LayoutPlan{}, s.deny(actor, ActionLayoutPlan, in.Site)
	}
	if err := validName("site", in.Site, 200); err != nil {
		return LayoutPlan{}, err
	}
	if err := validName("file_name", in.FileName, 200); err != nil {
		return LayoutPlan{}, err
	}
	if strings.ContainsAny(in.FileName, `/\`) {
		return LayoutPlan{}, Invalid("file_name", "a file name, not a path")
	}
	if len(in.Content) == 0 {
		return LayoutPlan{}, Invalid("file", "empty")
	}
	if len(in.Content) > MaxLayoutPlanBytes {
		return LayoutPlan{}, Invalid("file", fmt.Sprintf("larger than %d bytes", MaxLayoutPlanBytes))
	}
	if err := validText("notes", in.Notes, 4000); err != nil {
		return LayoutPlan{}, err
	}
	for _, c := range in.Cameras {
		if err := validID("cameras", c); err != nil {
			return LayoutPlan{}, err
		}
	}
	sum := sha256.Sum256(in.Content)
	now := s.nowUTC()
	var out LayoutPlan
	_, err := s.mutate(actor, ActionLayoutPlan, in.Site, func(tx *bolt.Tx) ([]draft, error) {
		for _, c := range in.Cameras {
			if _, err := getCamera(tx, c); err != nil {
				return nil, err
			}
		}
		id, err := nextID(tx, "L", now)
		if err != nil {
			return nil, err
		}
		p := LayoutPlan{ID: id, Site: strings.TrimSpace(in.Site), FileName: strings.TrimSpace(in.FileName),
			SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(in.Content)), Cameras: append([]string(nil), in.Cameras...),
			Notes: in.Notes, CreatedBy: actor.label(), CreatedAt: now}
		if err := putJSON(tx.Bucket(bLayouts), id, p); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bLayoutFiles).Put([]byte(id), in.Content); err != nil {
			return nil, err
		}
		out = p
		return []draft{{Subject: id, Details: map[string]string{"site": p.Site, "file": p.FileName,
			"sha256": p.SHA256, "bytes": fmt.Sprint(p.Bytes), "cameras": strings.Join(p.Cameras, ",")}}}, nil
	})
	return out, err
}

// LayoutPlans lists filed plans, newest first (manager, technician).
func (s *Store) LayoutPlans(actor Actor) ([]LayoutPlan, error) {
	out, err := readAll[LayoutPlan](s, actor, ActionMaintenanceRead, bLayouts)
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, err
}

// LayoutPlanFile returns a plan and its file (manager, technician).
func (s *Store) LayoutPlanFile(actor Actor, id string) (LayoutPlan, []byte, error) {
	if err := s.check(actor, ActionMaintenanceRead, id); err != nil {
		return LayoutPlan{}, nil, err
	}
	var p LayoutPlan
	var body []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bLayouts), id, &p)
		if err != nil {
			return err
		}
		if !found {
			return notFound("layout plan", id)
		}
		body = append([]byte(nil), tx.Bucket(bLayoutFiles).Get([]byte(id))...)
		return nil
	})
	if err != nil {
		return LayoutPlan{}, nil, err
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != p.SHA256 {
		return p, nil, fmt.Errorf("layout plan %s: stored file does not match its recorded SHA-256", id)
	}
	return p, body, nil
}
