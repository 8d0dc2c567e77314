package core

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Grant lets a temporary viewer see named footage until it expires
// (001 §4: others view only with the manager's consent).
type Grant struct {
	ID          string    `json:"ID"`
	Name        string    `json:"Name"`
	Fingerprint string    `json:"Fingerprint"`
	Cameras     []string  `json:"Cameras"`
	From        time.Time `json:"From"`
	To          time.Time `json:"To"`
	Live        bool      `json:"Live"`
	Until       time.Time `json:"Until"`
	Reason      string    `json:"Reason"`
	CreatedBy   string    `json:"CreatedBy"`
	CreatedAt   time.Time `json:"CreatedAt"`
	RevokedAt   time.Time `json:"RevokedAt"`
}

// GrantInput is what the manager consents to.
type GrantInput struct {
	Name          string
	AuthorizedKey string
	Cameras       []string
	From, To      time.Time // recorded range the viewer may play
	Live          bool      // may also watch live (if the policy allows live view)
	Until         time.Time // the grant and its key expire then
	Reason        string
}

// GrantViewer enrols a viewer key limited to a grant (manager, and only if
// the policy allows viewer grants).
func (s *Store) GrantViewer(actor Actor, in GrantInput) (Grant, error) {
	if !Allowed(actor.Role, ActionViewerGrant) {
		return Grant{}, s.deny(actor, ActionViewerGrant, in.Name)
	}
	if !s.policy.ViewerGrantsAllowed {
		err := s.deny(actor, ActionViewerGrant, in.Name)
		return Grant{}, fmt.Errorf("%w (policy %s allows no viewer grants)", err, s.policy.Name)
	}
	now := s.nowUTC()
	if err := validName("name", in.Name, 200); err != nil {
		return Grant{}, err
	}
	if err := validName("reason", in.Reason, 2000); err != nil {
		return Grant{}, err
	}
	if len(in.Cameras) == 0 {
		return Grant{}, Invalid("cameras", "at least one camera")
	}
	if err := checkRange(in.From, in.To, now, maxGrantSpan); err != nil { // dates.go
		return Grant{}, err
	}
	if !in.Until.After(now) {
		return Grant{}, Invalid("until", "must be in the future")
	}
	if err := checkDate("until", in.Until, now, windowGrantUntil); err != nil {
		return Grant{}, err
	}
	if in.Live && !s.policy.LiveViewAllowed {
		return Grant{}, Invalid("live", "policy does not allow live view")
	}
	pk, fp, line, err := ParseKey(in.AuthorizedKey)
	if err != nil {
		return Grant{}, err
	}
	g := Grant{Name: in.Name, Fingerprint: fp, Cameras: append([]string(nil), in.Cameras...), From: in.From.UTC(),
		To: in.To.UTC(), Live: in.Live, Until: in.Until.UTC(), Reason: in.Reason, CreatedBy: actor.label(), CreatedAt: now}
	_, err = s.mutate(actor, ActionViewerGrant, fp, func(tx *bolt.Tx) ([]draft, error) {
		for _, c := range g.Cameras {
			if _, err := getCamera(tx, c); err != nil {
				return nil, err
			}
		}
		kb := tx.Bucket(bKeys)
		var old Key
		found, err := getJSON(kb, fp, &old)
		if err != nil {
			return nil, err
		}
		if found && old.Active(now) {
			return nil, fmt.Errorf("%w: key %s is already enrolled as %s", ErrConflict, fp, old.Name)
		}
		id, err := nextID(tx, "G", now)
		if err != nil {
			return nil, err
		}
		g.ID = id
		k := Key{Fingerprint: fp, Name: g.Name, Role: RoleViewer, PublicKey: line, Type: pk.Type(), EnrolledAt: now,
			EnrolledBy: actor.label(), GrantID: id, ExpiresAt: g.Until}
		if err := putJSON(kb, fp, k); err != nil {
			return nil, err
		}
		if err := putJSON(tx.Bucket(bGrants), id, g); err != nil {
			return nil, err
		}
		return []draft{{Subject: id, Details: map[string]string{"name": g.Name, "fingerprint": fp,
			"cameras": strings.Join(g.Cameras, ","), "from": fmtTime(g.From), "to": fmtTime(g.To),
			"live": strconv.FormatBool(g.Live), "until": fmtTime(g.Until), "reason": g.Reason}}}, nil
	})
	if err != nil {
		return Grant{}, err
	}
	return g, nil
}

// RevokeGrant ends a grant and its key now (manager).
func (s *Store) RevokeGrant(actor Actor, id, reason string) error {
	if !Allowed(actor.Role, ActionViewerRevoke) {
		return s.deny(actor, ActionViewerRevoke, id)
	}
	if err := validText("reason", reason, 2000); err != nil {
		return err
	}
	now := s.nowUTC()
	_, err := s.mutate(actor, ActionViewerRevoke, id, func(tx *bolt.Tx) ([]draft, error) {
		var g Grant
		found, err := getJSON(tx.Bucket(bGrants), id, &g)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, notFound("grant", id)
		}
		if !g.RevokedAt.IsZero() {
			return nil, fmt.Errorf("%w: grant %s already revoked", ErrConflict, id)
		}
		g.RevokedAt = now
		if err := putJSON(tx.Bucket(bGrants), id, g); err != nil {
			return nil, err
		}
		var k Key
		if found, err := getJSON(tx.Bucket(bKeys), g.Fingerprint, &k); err == nil && found && k.GrantID == id && k.RevokedAt.IsZero() {
			k.RevokedAt = now
			if err := putJSON(tx.Bucket(bKeys), g.Fingerprint, k); err != nil {
				return nil, err
			}
		}
		return []draft{{Subject: id, Details: map[string]string{"reason": reason}}}, nil
	})
	return err
}

// Grants lists viewer grants, newest first (manager).
func (s *Store) Grants(actor Actor) ([]Grant, error) {
	out, err := readAll[Grant](s, actor, ActionGrantsRead, bGrants)
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, err
}

// coveringGrant finds an active grant of fingerprint that covers v.
func coveringGrant(tx *bolt.Tx, fp string, v ViewInput, now time.Time) (string, bool, error) {
	gs, err := listJSON[Grant](tx, bGrants)
	if err != nil {
		return "", false, err
	}
	// Only the grant the key is enrolled under counts: a key revoked and
	// granted again must not revive an older grant's cameras and range.
	var k Key
	if found, err := getJSON(tx.Bucket(bKeys), fp, &k); err != nil || !found {
		return "", false, err
	}
	for _, g := range gs {
		if g.Fingerprint != fp || g.ID != k.GrantID || !g.RevokedAt.IsZero() || !now.Before(g.Until) {
			continue
		}
		has := false
		for _, c := range g.Cameras {
			has = has || c == v.Camera
		}
		if !has {
			continue
		}
		if v.Live && g.Live || !v.Live && !v.From.Before(g.From) && !v.To.After(g.To) {
			return g.ID, true, nil
		}
	}
	return "", false, nil
}

// Health is the recorder's live state (technician, manager).
func (s *Store) Health(actor Actor) (RecorderStats, error) {
	if err := s.check(actor, ActionHealthRead, ""); err != nil {
		return RecorderStats{}, err
	}
	f := s.foot()
	if f == nil {
		return RecorderStats{}, fmt.Errorf("%w: recorder not attached", ErrUnavailable)
	}
	return f.Stats(), nil
}

// Recordings lists what was recorded of camera in [from, to).
func (s *Store) Recordings(actor Actor, camera string, from, to time.Time) ([]Span, error) {
	if err := s.check(actor, ActionRecordingsRead, camera); err != nil {
		return nil, err
	}
	if !from.Before(to) {
		return nil, Invalid("to", "must be after from")
	}
	f := s.foot()
	if f == nil {
		return nil, fmt.Errorf("%w: recorder not attached", ErrUnavailable)
	}
	return f.Coverage(camera, footageTime(from), footageTime(to))
}

// Footage is keyed by Unix nanoseconds, which reach from 1677 to 2262: a
// query beyond is cut there, or its conversion overflows and it finds
// nothing ("nothing recorded" over 0001 … 9999, the widest range asked).
var footageFirst, footageLast = time.Unix(0, math.MinInt64).UTC(), time.Unix(0, math.MaxInt64).UTC()

func footageTime(t time.Time) time.Time {
	switch t = t.UTC(); {
	case t.Before(footageFirst):
		return footageFirst
	case t.After(footageLast):
		return footageLast
	}
	return t
}

// Coverage is Recordings under the name the console uses.
func (s *Store) Coverage(actor Actor, camera string, from, to time.Time) ([]Span, error) {
	return s.Recordings(actor, camera, from, to)
}
