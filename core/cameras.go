package core

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Camera is one entry of the camera register (000 §4, 001 §2, §8).
type Camera struct {
	ID              string    `json:"ID"`
	Number          string    `json:"Number"` // number as on the layout plan / form 1
	Name            string    `json:"Name"`
	Location        string    `json:"Location"`  // 設置箇所
	Direction       string    `json:"Direction"` // direction and range of view
	URL             string    `json:"URL"`       // stream URL (may carry credentials: never ledgered in clear)
	SignPosted      bool      `json:"SignPosted"`
	PoliceConsulted time.Time `json:"PoliceConsulted"` // 000 §4-2
	Status          string    `json:"Status"`          // active, maintenance, removed
	CreatedAt       time.Time `json:"CreatedAt"`
	UpdatedAt       time.Time `json:"UpdatedAt"`
	// SignChangedAt is when a sign was last recorded posted or removed;
	// once set, the register (not the config file) decides SignPosted.
	SignChangedAt time.Time `json:"SignChangedAt,omitempty"`
	// RemovedAt and RemovedReason: the manager's removal (001 §8-2).
	// Recording stops; footage stays until retention erases it.
	RemovedAt     time.Time `json:"RemovedAt,omitempty"`
	RemovedReason string    `json:"RemovedReason,omitempty"`
}

const (
	CameraActive      = "active"
	CameraMaintenance = "maintenance"
	CameraRemoved     = "removed"
)

func validID(field, id string) error {
	if id == "" {
		return Invalid(field, "required")
	}
	if len(id) > 64 {
		return Invalid(field, "longer than 64 characters")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return Invalid(field, "only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// validText checks text a person typed; see CheckText (text.go).
func validText(field, v string, max int) error { return CheckText(field, v, max) }

func (c *Camera) normalise() error {
	c.ID = strings.TrimSpace(c.ID)
	c.Name = strings.TrimSpace(c.Name)
	if err := validID("id", c.ID); err != nil {
		return err
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	for _, f := range []struct{ n, v string }{{"number", c.Number}, {"name", c.Name}, {"location", c.Location}, {"direction", c.Direction}} {
		if err := validText(f.n, f.v, 500); err != nil {
			return err
		}
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return Invalid("url", "must be an absolute URL like rtsp://host/path")
		}
	}
	switch c.Status {
	case "":
		c.Status = CameraActive
	case CameraActive, CameraMaintenance, CameraRemoved:
	default:
		return Invalid("status", "must be active, maintenance or removed")
	}
	c.PoliceConsulted = c.PoliceConsulted.UTC()
	return nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// cameraFields flattens the register fields for diffs and ledger details.
func cameraFields(c Camera) map[string]string {
	return map[string]string{
		"number": c.Number, "name": c.Name, "location": c.Location, "direction": c.Direction,
		"url": redactURL(c.URL), "sign_posted": strconv.FormatBool(c.SignPosted),
		"police_consulted": fmtTime(c.PoliceConsulted), "status": c.Status,
		"sign_changed": fmtTime(c.SignChangedAt),
	}
}

// cameraDiff returns "field" -> "old -> new" for changed fields; URL
// changes are detected on the full URL but shown redacted.
func cameraDiff(old, nu Camera) map[string]string {
	a, b := cameraFields(old), cameraFields(nu)
	d := map[string]string{}
	for k, v := range b {
		if a[k] != v {
			d[k] = a[k] + " -> " + v
		}
	}
	if old.URL != nu.URL && d["url"] == "" {
		d["url"] = "changed (credentials)"
	}
	return d
}

func putCamera(tx *bolt.Tx, c Camera) error { return putJSON(tx.Bucket(bCameras), c.ID, c) }

func getCamera(tx *bolt.Tx, id string) (Camera, error) {
	var c Camera
	found, err := getJSON(tx.Bucket(bCameras), id, &c)
	if err != nil {
		return c, err
	}
	if !found {
		return c, notFound("camera", id)
	}
	return c, nil
}

// SyncCameras brings the register in line with the config file (system):
// new cameras are added, changed fields updated, one entry per change.
// Cameras missing from the config are left alone: removal is a manager's
// recorded act.
func (s *Store) SyncCameras(actor Actor, cams []Camera) error {
	if !Allowed(actor.Role, ActionCameraSync) {
		return s.deny(actor, ActionCameraSync, "")
	}
	in := make([]Camera, len(cams))
	seen := map[string]bool{}
	for i, c := range cams {
		if err := c.normalise(); err != nil {
			var fe *FieldError
			if asField(err, &fe) {
				return Invalid(fmt.Sprintf("cameras[%d].%s", i, fe.Field), fe.Reason)
			}
			return err
		}
		if seen[c.ID] {
			return Invalid(fmt.Sprintf("cameras[%d].id", i), "duplicate id "+c.ID)
		}
		seen[c.ID] = true
		in[i] = c
	}
	now := s.nowUTC()
	_, err := s.mutate(actor, ActionCameraSync, "", func(tx *bolt.Tx) ([]draft, error) {
		var drafts []draft
		for _, c := range in {
			old, err := getCamera(tx, c.ID)
			switch {
			case isNotFound(err):
				c.CreatedAt, c.UpdatedAt = now, now
				if err := putCamera(tx, c); err != nil {
					return nil, err
				}
				det := cameraFields(c)
				det["change"] = "add"
				drafts = append(drafts, draft{Subject: c.ID, Details: det})
			case err != nil:
				return nil, err
			default:
				// Config owns the stream and description; status (e.g. removed,
				// maintenance) and register dates stay as the manager set them
				// unless the config sets them.
				nu := old
				nu.Name, nu.URL = c.Name, c.URL
				if c.Number != "" {
					nu.Number = c.Number
				}
				if c.Location != "" {
					nu.Location = c.Location
				}
				if c.Direction != "" {
					nu.Direction = c.Direction
				}
				if c.SignPosted && old.SignChangedAt.IsZero() {
					nu.SignPosted = true // a recorded sign removal is not undone by the config
				}
				if !c.PoliceConsulted.IsZero() {
					nu.PoliceConsulted = c.PoliceConsulted
				}
				d := cameraDiff(old, nu)
				if len(d) == 0 {
					continue
				}
				nu.UpdatedAt = now
				if err := putCamera(tx, nu); err != nil {
					return nil, err
				}
				d["change"] = "update"
				drafts = append(drafts, draft{Subject: c.ID, Details: d})
			}
		}
		return drafts, nil
	})
	return err
}

// AddCamera adds a camera to the register (manager).
func (s *Store) AddCamera(actor Actor, c Camera) (Camera, error) {
	if !Allowed(actor.Role, ActionCameraAdd) {
		return Camera{}, s.deny(actor, ActionCameraAdd, c.ID)
	}
	if err := c.normalise(); err != nil {
		return Camera{}, err
	}
	if c.URL == "" {
		return Camera{}, Invalid("url", "required")
	}
	now := s.nowUTC()
	c.CreatedAt, c.UpdatedAt = now, now
	_, err := s.mutate(actor, ActionCameraAdd, c.ID, func(tx *bolt.Tx) ([]draft, error) {
		if _, err := getCamera(tx, c.ID); err == nil {
			return nil, fmt.Errorf("%w: camera %s already exists", ErrConflict, c.ID)
		} else if !isNotFound(err) {
			return nil, err
		}
		if err := putCamera(tx, c); err != nil {
			return nil, err
		}
		return []draft{{Subject: c.ID, Details: cameraFields(c)}}, nil
	})
	if err != nil {
		return Camera{}, err
	}
	return c, nil
}

// UpdateCamera replaces a camera's register fields (manager). Only changed
// fields are ledgered; an unchanged update writes nothing.
func (s *Store) UpdateCamera(actor Actor, c Camera) (Camera, error) {
	if !Allowed(actor.Role, ActionCameraUpdate) {
		return Camera{}, s.deny(actor, ActionCameraUpdate, c.ID)
	}
	if err := c.normalise(); err != nil {
		return Camera{}, err
	}
	now := s.nowUTC()
	var out Camera
	_, err := s.mutate(actor, ActionCameraUpdate, c.ID, func(tx *bolt.Tx) ([]draft, error) {
		old, err := getCamera(tx, c.ID)
		if err != nil {
			return nil, err
		}
		nu := c
		nu.CreatedAt, nu.UpdatedAt = old.CreatedAt, old.UpdatedAt
		if nu.URL == "" {
			nu.URL = old.URL
		}
		// A police consultation date a person gives is a past event
		// (000 §4-2): a typo or 9999-12-31 is refused, not recorded.
		if !nu.PoliceConsulted.Equal(old.PoliceConsulted) {
			if err := checkEventDate("police_consulted", nu.PoliceConsulted, now); err != nil {
				return nil, err
			}
		}
		out = nu
		d := cameraDiff(old, nu)
		if len(d) == 0 {
			return nil, nil
		}
		nu.UpdatedAt = now
		out = nu
		if err := putCamera(tx, nu); err != nil {
			return nil, err
		}
		return []draft{{Subject: c.ID, Details: d}}, nil
	})
	if err != nil {
		return Camera{}, err
	}
	return out, nil
}

// RemoveCamera is the manager's decision to stop operating a camera
// (001 §8-2): the register marks it removed with the reason, recording
// stops (the recorder's CameraStopper, if attached), and its footage stays
// until retention erases it. The register keeps the camera.
func (s *Store) RemoveCamera(actor Actor, id, reason string) error {
	_, err := s.removeCamera(actor, id, reason, nil)
	return err
}

// removeCamera removes a camera and, with rec, files a maintenance record
// of the removal in the same transaction.
func (s *Store) removeCamera(actor Actor, id, reason string, rec *MaintenanceRecord) (MaintenanceRecord, error) {
	if !Allowed(actor.Role, ActionCameraRemove) {
		return MaintenanceRecord{}, s.deny(actor, ActionCameraRemove, id)
	}
	if err := validName("reason", reason, 1000); err != nil {
		return MaintenanceRecord{}, err
	}
	now := s.nowUTC()
	var out MaintenanceRecord
	_, err := s.mutate(actor, ActionCameraRemove, id, func(tx *bolt.Tx) ([]draft, error) {
		c, err := getCamera(tx, id)
		if err != nil {
			return nil, err
		}
		if c.Status == CameraRemoved {
			return nil, fmt.Errorf("%w: camera %s is already removed", ErrConflict, id)
		}
		old := c.Status
		c.Status, c.UpdatedAt, c.RemovedAt, c.RemovedReason = CameraRemoved, now, now, reason
		if err := putCamera(tx, c); err != nil {
			return nil, err
		}
		drafts := []draft{{Subject: id, Details: map[string]string{"reason": reason, "status": old + " -> " + CameraRemoved,
			"footage": "kept until retention ends"}}}
		if rec != nil {
			r := *rec
			d, err := s.putMaintenanceTx(tx, actor, ActionMaintenance, &r, now)
			if err != nil {
				return nil, err
			}
			out = r
			drafts = append(drafts, d)
		}
		return drafts, nil
	})
	if err != nil {
		return MaintenanceRecord{}, err
	}
	// After the commit: the register says removed before recording stops,
	// so a restart in between does not start the camera again.
	if cs, ok := s.foot().(CameraStopper); ok {
		if err := cs.StopCamera(id); err != nil {
			s.log.Error("camera removed but its recording could not be stopped", "camera", id, "err", err)
		}
	}
	// The camera's run of erasures ends here: its pending proof is written.
	if err := s.FlushErasureProofs(id); err != nil {
		s.log.Error("camera removed but its pending erasure proof could not be written yet", "camera", id, "err", err)
	}
	return out, nil
}

// RemovedCameras lists the cameras the register marks removed, for the
// appliance to leave out of recording at start. No actor: it reveals
// only ids and is read by the appliance itself.
func (s *Store) RemovedCameras() (map[string]bool, error) {
	out := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		cams, err := listJSON[Camera](tx, bCameras)
		for _, c := range cams {
			if c.Status == CameraRemoved {
				out[c.ID] = true
			}
		}
		return err
	})
	return out, err
}

// stateOnly strips what a technician may not see (stream URL and the
// police consultation record).
func stateOnly(c Camera) Camera {
	return Camera{ID: c.ID, Number: c.Number, Name: c.Name, Location: c.Location, Direction: c.Direction,
		SignPosted: c.SignPosted, Status: c.Status, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		SignChangedAt: c.SignChangedAt, RemovedAt: c.RemovedAt}
}

// Cameras lists the register, by id. Technicians get state only.
func (s *Store) Cameras(actor Actor) ([]Camera, error) {
	out, err := readAll[Camera](s, actor, ActionCamerasRead, bCameras)
	if ScopeOf(actor.Role).CameraState {
		for i := range out {
			out[i] = stateOnly(out[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// Camera returns one camera.
func (s *Store) Camera(actor Actor, id string) (Camera, error) {
	scope, err := s.authorize(actor, ActionCamerasRead, id)
	if err != nil {
		return Camera{}, err
	}
	var c Camera
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = getCamera(tx, id)
		return err
	})
	if err != nil {
		return Camera{}, err
	}
	if scope.CameraState {
		c = stateOnly(c)
	}
	return c, nil
}
