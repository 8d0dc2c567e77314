package core

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	Request   string    // the purpose, as authorized: a request ...
	Reason    string    // ... or a reason
}

// ViewInput is what someone asks to watch and why. Every view of
// recorded footage states its purpose: a request (under a policy where
// operators search only on the manager's instruction, 000 §9-2: one whose
// search was instructed to this operator) or a reason. A viewer's purpose
// is their grant. Live view may state one; it is recorded if given.
type ViewInput struct {
	Camera   string
	From, To time.Time // recorded range (ignored when Live)
	Live     bool
	Request  string // the request the view serves, or ""
	Reason   string // why, when no request is named
}

// ViewRefusal says why a view for a request was refused (wrapped with
// ErrForbidden): the person may be told, it names only the request they
// gave and what it allows.
type ViewRefusal struct{ Reason string }

func (e *ViewRefusal) Error() string { return e.Reason }

// maxViewReason bounds a view's stated reason.
const maxViewReason = 500

// viewStates are the request states in which its footage may be viewed
// for it: from the instruction to search until the handover.
var viewStates = []RequestState{StateInstructed, StateSearched, StateApproved, StateExported}

// AuthorizeView checks that actor may watch v and ledgers the
// authorization with its purpose. Managers and operators may view; a
// viewer only within an active grant that names the camera and covers the
// range (or allows live); everyone else gets ErrForbidden, ledgered as a
// denied attempt. Live view needs a policy that allows it. Recorded
// footage needs a purpose (see ViewInput); a request named as purpose
// must include the camera and cover the range.
func (s *Store) AuthorizeView(actor Actor, v ViewInput) error {
	scope, err := s.authorize(actor, ActionView, v.Camera)
	if err != nil {
		return err
	}
	if err := validID("camera", v.Camera); err != nil {
		return err
	}
	if v.Live && !s.policy.LiveViewAllowed {
		err := s.deny(actor, ActionView, v.Camera)
		return fmt.Errorf("%w (policy %s allows no live view)", err, s.policy.Name)
	}
	v.Reason = strings.TrimSpace(v.Reason)
	if err := validText("reason", v.Reason, maxViewReason); err != nil {
		return err
	}
	if v.Request != "" {
		if err := validID("request", v.Request); err != nil {
			return err
		}
	}
	if v.Live {
		v.From, v.To = time.Time{}, time.Time{}
	} else {
		if !v.From.Before(v.To) {
			return Invalid("to", "must be after from")
		}
		v.From, v.To = v.From.UTC(), v.To.UTC()
		if !scope.GrantOnly && v.Request == "" {
			if s.policy.OperatorViewsOnInstruction && scope.AssignedOnly {
				return Invalid("request", "under the "+s.policy.Name+" policy an operator views recorded footage only for a request whose search was instructed to them (000 §9-2)")
			}
			if v.Reason == "" {
				return Invalid("reason", "state the purpose of the view: a request or a reason")
			}
		}
	}
	now := s.nowUTC()
	var refusal error
	_, err = s.mutate(actor, ActionView, v.Camera, func(tx *bolt.Tx) ([]draft, error) {
		refusal = nil // the change may run more than once
		det := viewDetails(v.Live, v.From, v.To)
		det["phase"] = "authorized"
		// A viewer's grant first: outside it, a camera that does not
		// exist is as forbidden as one that does (no "not found" to
		// tell which cameras there are).
		if scope.GrantOnly {
			g, ok, err := coveringGrant(tx, actor.Fingerprint, v, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				refusal = ErrForbidden
				return nil, ErrForbidden
			}
			det["grant"] = g
		}
		if _, err := getCamera(tx, v.Camera); err != nil {
			return nil, err
		}
		if v.Request != "" {
			if why, err := s.checkViewRequest(tx, actor, v); err != nil {
				return nil, err
			} else if why != "" {
				refusal = &ViewRefusal{Reason: why}
				return nil, ErrForbidden
			}
			det["request"] = v.Request
		}
		if v.Reason != "" {
			det["reason"] = v.Reason
		}
		return []draft{{Subject: v.Camera, Details: det}}, nil
	})
	if refusal != nil {
		err := s.deny(actor, ActionView, v.Camera)
		if refusal != ErrForbidden {
			err = fmt.Errorf("%w: %w", err, refusal)
		}
		return err
	}
	return err
}

// checkViewRequest says why v may not be viewed for its request ("" if it
// may): the request must include the camera and cover the range, be
// between instruction and handover, and, where operators search only on
// instruction, have been instructed to this operator.
func (s *Store) checkViewRequest(tx *bolt.Tx, actor Actor, v ViewInput) (string, error) {
	r, err := getRequest(tx, v.Request)
	if err != nil {
		return "", err
	}
	inState := false
	for _, st := range viewStates {
		inState = inState || r.State == st
	}
	if !inState {
		return fmt.Sprintf("request %s is %s; its footage is viewed between the instruction to search and the handover", r.ID, r.State), nil
	}
	if ScopeOf(actor.Role).AssignedOnly && s.policy.OperatorViewsOnInstruction && !r.AssignedTo(actor) {
		return fmt.Sprintf("the search of request %s was not instructed to %s", r.ID, actor.Name), nil
	}
	has := false
	for _, c := range r.Cameras {
		has = has || c == v.Camera
	}
	if !has {
		return fmt.Sprintf("request %s does not name camera %s", r.ID, v.Camera), nil
	}
	if !v.Live && (v.From.Before(r.From) || v.To.After(r.To)) {
		return fmt.Sprintf("request %s covers %s to %s only", r.ID, fmtTime(r.From), fmtTime(r.To)), nil
	}
	return "", nil
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
	case len(v.Request) > 200 || len(v.Reason) > maxViewReason:
		return Invalid("purpose", "request or reason too long")
	}
	det := viewDetails(v.Live, v.From, v.To)
	det["phase"] = "ended"
	det["started"], det["ended"] = fmtTime(v.Started), fmtTime(v.Ended)
	det["seconds"] = strconv.FormatFloat(v.Ended.Sub(v.Started).Seconds(), 'f', 3, 64)
	det["bytes"] = strconv.FormatInt(v.Bytes, 10)
	if v.SessionID != "" {
		det["session"] = v.SessionID
	}
	if v.Request != "" {
		det["request"] = v.Request
	}
	if v.Reason != "" {
		det["reason"] = v.Reason
	}
	// What happened is recorded whatever the key's change rate.
	_, err := s.mutateHappened(actor, ActionView, v.Camera, func(tx *bolt.Tx) ([]draft, error) {
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
	s.refuse(actor, "forward", "", "dest", dest)
	return nil
}

// The playback contract: what the SSH layer and the console ask of the
// recorder's playback server, in core's terms so neither imports the
// recorder.

// ViewGrant is what a viewing link is minted for.
type ViewGrant struct {
	Actor     Actor
	SessionID string // the SSH session that asked (ledger; EndSession)
	Origin    string // the SSH connection forwards must come through
	View      ViewInput
	// Expires, if set and sooner than the server's maximum, ends the link
	// earlier (e.g. a viewer key's expiry).
	Expires time.Time
}

// ViewFile is one playable file of a link.
type ViewFile struct {
	Path  string    // "/v/TOKEN/recording.mp4"
	Start time.Time // first frame (a keyframe at or before the asked from); zero for live
	End   time.Time // zero for live
	Size  int64     // bytes; 0 for live (a growing stream)
}

// ViewTicket is a minted link and what it opens.
type ViewTicket struct {
	Token   string
	Expires time.Time
	Files   []ViewFile // one per init segment for a range; one growing stream for live
}

// Errors of minting a link besides ErrForbidden.
var (
	ErrNoFootage = errors.New("nothing playable is recorded in that range")
	ErrNoLive    = errors.New("live view is not available on this appliance")
)
