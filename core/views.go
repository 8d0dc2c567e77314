package core

import (
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Viewing through the SSH session (000 §9-2, §9-5; 001 §4) is ledgered
// twice: once when it is authorized (before any footage reaches the person)
// and once when it ends, with what was actually served. Both entries have
// action "view"; details "phase" tells them apart.

// ViewRecord is one finished viewing: what was watched, when, and how many
// bytes reached the person.
type ViewRecord struct {
	Camera    string
	From, To  time.Time // recorded range; zero when Live
	Live      bool
	Started   time.Time // first request of the viewing
	Ended     time.Time // the stream ended (client hung up, session ended)
	Bytes     int64     // response body bytes sent
	SessionID string    // the SSH session the viewing belonged to
}

// AuthorizeView checks that actor may watch camera (a recorded range, or
// live) and ledgers the authorization. Managers and operators may view;
// a viewer only within an active grant that names the camera and covers
// the range (or allows live); everyone else gets ErrForbidden, ledgered as
// a denied attempt. Live view needs a policy that allows it.
func (s *Store) AuthorizeView(actor Actor, camera string, from, to time.Time, live bool) error {
	if !Allowed(actor.Role, ActionView) {
		return s.deny(actor, ActionView, camera)
	}
	if err := validID("camera", camera); err != nil {
		return err
	}
	if live && !s.policy.LiveViewAllowed {
		err := s.deny(actor, ActionView, camera)
		return fmt.Errorf("%w (policy %s allows no live view)", err, s.policy.Name)
	}
	v := ViewInput{Camera: camera, Live: live}
	if !live {
		if !from.Before(to) {
			return Invalid("to", "must be after from")
		}
		v.From, v.To = from.UTC(), to.UTC()
	}
	now := s.nowUTC()
	var refused bool
	_, err := s.mutate(actor, ActionView, camera, func(tx *bolt.Tx) ([]draft, error) {
		refused = false // the change may run more than once
		if _, err := getCamera(tx, camera); err != nil {
			return nil, err
		}
		det := viewDetails(v.Live, v.From, v.To)
		det["phase"] = "authorized"
		if actor.Role == RoleViewer {
			g, ok, err := coveringGrant(tx, actor.Fingerprint, v, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				refused = true
				return nil, ErrForbidden
			}
			det["grant"] = g
		}
		return []draft{{Subject: camera, Details: det}}, nil
	})
	if refused {
		return s.deny(actor, ActionView, camera)
	}
	return err
}

// RecordViewing ledgers a finished viewing (action "view", phase "ended").
// It does not check grants again: the viewing was authorized when it
// began, and what happened must be recorded even if the grant or the
// camera is gone by now. Only roles that may view can have viewed.
func (s *Store) RecordViewing(actor Actor, v ViewRecord) error {
	if !Allowed(actor.Role, ActionView) {
		return s.deny(actor, ActionView, v.Camera)
	}
	if err := validID("camera", v.Camera); err != nil {
		return err
	}
	switch {
	case v.Started.IsZero() || v.Ended.IsZero():
		return Invalid("started", "start and end of the viewing are required")
	case v.Ended.Before(v.Started):
		return Invalid("ended", "before the start")
	case v.Bytes < 0:
		return Invalid("bytes", "negative")
	case len(v.SessionID) > 200:
		return Invalid("session", "longer than 200 characters")
	case !v.Live && v.To.Before(v.From):
		return Invalid("to", "before from")
	}
	det := viewDetails(v.Live, v.From, v.To)
	det["phase"] = "ended"
	det["started"], det["ended"] = fmtTime(v.Started), fmtTime(v.Ended)
	det["seconds"] = strconv.FormatFloat(v.Ended.Sub(v.Started).Seconds(), 'f', 3, 64)
	det["bytes"] = strconv.FormatInt(v.Bytes, 10)
	if v.SessionID != "" {
		det["session"] = v.SessionID
	}
	_, err := s.mutate(actor, ActionView, v.Camera, func(tx *bolt.Tx) ([]draft, error) {
		return []draft{{Subject: v.Camera, Details: det}}, nil
	})
	return err
}

func viewDetails(live bool, from, to time.Time) map[string]string {
	det := map[string]string{"live": strconv.FormatBool(live)}
	if !live {
		det["from"], det["to"] = fmtTime(from), fmtTime(to)
	}
	return det
}

// RecordForwardRefused ledgers an SSH port forward the appliance refused
// (anything but the playback address): a denied entry with what was asked.
func (s *Store) RecordForwardRefused(actor Actor, dest string) error {
	det := map[string]string{"tried": "forward", "role": actor.Role.String(), "dest": ledgerSafe(dest, 300)}
	var e Entry
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		e, err = s.appendEntry(tx, actor, ActionDenied, "forward", det)
		return err
	})
	if err != nil {
		return fmt.Errorf("ledger refused forward: %w", err)
	}
	s.hub.publish(Change{Seq: e.Seq, Action: e.Action, Subject: e.Subject})
	return nil
}
