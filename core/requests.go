package core

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RequestState is where a request is in its paperwork (000 §8-9, 001 §6).
type RequestState string

const (
	StateRegistered RequestState = "registered"
	StateInstructed RequestState = "instructed" // manager instructed a search
	StateSearched   RequestState = "searched"   // operator recorded the result (form 3)
	StateApproved   RequestState = "approved"
	StateDenied     RequestState = "denied"
	StateExported   RequestState = "exported"
	StateProvided   RequestState = "provided"
	StateClosed     RequestState = "closed"
)

// Purposes (form 2). The legal grounds are the policy profile's own
// (Policy.Grounds: 000 §8, 001 §6).
var Purposes = []string{"arrest", "investigation", "other"}

// Grounds is the union of the built-in profiles' ground codes, for help
// texts; a request is checked against its store's profile.
var Grounds = []string{"law", "investigation", "life", "consent", "internal", "ordinance", "other"}

// maxFoundRanges bounds what one search result may list.
const maxFoundRanges = 64

// RequestInput is form 2 (利用申請書) as received.
type RequestInput struct {
	ReceivedAt       time.Time `json:"ReceivedAt"` // zero = now
	ApplicantAddress string    `json:"ApplicantAddress"`
	Agency           string    `json:"Agency"`
	Representative   string    `json:"Representative"`
	ContactPerson    string    `json:"ContactPerson"`
	Phone            string    `json:"Phone"`
	Purpose          string    `json:"Purpose"`       // arrest | investigation | other
	PurposeReason    string    `json:"PurposeReason"` // required for "other"
	Ground           string    `json:"Ground"`        // law | investigation | life | consent | other
	GroundNote       string    `json:"GroundNote"`    // required for "other"
	Cameras          []string  `json:"Cameras"`
	From             time.Time `json:"From"`
	To               time.Time `json:"To"`
	Notes            string    `json:"Notes"`
	WrittenRef       string    `json:"WrittenRef"` // reference of the written request
	// Consent records the consent of the person shown (who, how it was
	// confirmed in writing) where the ground needs it (000 §8(1), 001 §6(4)).
	Consent string `json:"Consent,omitempty"`
	// RecipientKey is the recipient's age or SSH public key, when the
	// request names one: the package is then encrypted to it.
	RecipientKey string `json:"RecipientKey,omitempty"`
}

// FoundRange is footage found on one camera: the needed range the
// operator identified by search and playback (000 §9-2), and what the
// manager approves and the export copies (000 §9-4).
type FoundRange struct {
	Camera string    `json:"Camera"`
	From   time.Time `json:"From"` // UTC
	To     time.Time `json:"To"`   // UTC, exclusive
}

// SearchResult is the operator's finding (form 3 検索簿).
type SearchResult struct {
	Outcome string    `json:"Outcome"` // found | not-found | other
	Note    string    `json:"Note"`
	By      string    `json:"By"`
	At      time.Time `json:"At"`
	// Found lists, per camera, the ranges where footage was found; a
	// camera not listed had none. Results recorded before ranges existed
	// have none and mean the whole requested range.
	Found []FoundRange `json:"Found,omitempty"`
	// Ranged: recorded by a release that asks for ranges, so no ranges
	// means nothing found on any camera (not "the whole request").
	Ranged bool `json:"Ranged,omitempty"`
}

// Decision is the manager's approval or denial.
type Decision struct {
	Approved bool      `json:"Approved"`
	By       string    `json:"By"`
	At       time.Time `json:"At"`
	Reason   string    `json:"Reason"`
	// Judgement is the manager's recorded statement that provision meets
	// the regulation's test (000 §8 不当侵害; 001 §6 necessity).
	Judgement string `json:"Judgement,omitempty"`
	// Ranges is exactly what is approved for export: what was found, or
	// the part of it the manager narrowed to.
	Ranges []FoundRange `json:"Ranges,omitempty"`
}

// ApprovalInput is what the manager gives when approving.
type ApprovalInput struct {
	Judgement string       // required: why the regulation's test is met
	Ranges    []FoundRange // optional: narrow what was found; empty = all of it
	Consent   string       // the person's consent, if the ground needs it and registration lacked it
}

// ExportFile is one file of an export package.
type ExportFile struct {
	Name   string `json:"Name"`
	Camera string `json:"Camera"`
	SHA256 string `json:"SHA256"`
	Bytes  int64  `json:"Bytes"`
}

// ExportRecord is what the recorder produced for an approved request.
type ExportRecord struct {
	Path         string       `json:"Path"`
	Files        []ExportFile `json:"Files"`
	ManifestHash string       `json:"ManifestHash"` // SHA-256 of the manifest
	By           string       `json:"By"`           // set by core
	At           time.Time    `json:"At"`
	// The package file itself, for the receipt and for fetches.
	PackageSHA256 string `json:"PackageSHA256,omitempty"`
	PackageBytes  int64  `json:"PackageBytes,omitempty"`
	// How it was protected (a PackageProtection method) and to what key.
	Protection string `json:"Protection,omitempty"`
	KeyID      string `json:"KeyID,omitempty"`
	// The appliance's copy was erased then, and why (EraseHandedOver,
	// EraseExpired).
	ErasedAt    time.Time `json:"ErasedAt,omitempty"`
	EraseReason string    `json:"EraseReason,omitempty"`
	// Damaged: footage in the exported ranges left out because its stored
	// bytes failed their check (named in the manifest too).
	Damaged []ExportGap `json:"Damaged,omitempty"`
}

// ExportGap is an interval of one camera an export left out as damaged.
type ExportGap struct {
	Camera string    `json:"Camera"`
	File   string    `json:"File"`
	From   time.Time `json:"From"`
	To     time.Time `json:"To"`
}

// Provision is the handover to the requester, with identity check.
type Provision struct {
	Recipient  string    `json:"Recipient"`
	Agency     string    `json:"Agency"`
	IDDocType  string    `json:"IDDocType"` // identity document checked
	Date       time.Time `json:"Date"`
	WrittenRef string    `json:"WrittenRef"` // written request's reference (if not given at registration)
	By         string    `json:"By"`         // set by core
	At         time.Time `json:"At"`
	// Medium is what the package left on (USB memory no. 3, DVD-R, the
	// recipient's laptop over sftp): for the receipt and the ledger.
	Medium string `json:"Medium,omitempty"`
}

// Transition is one step of the request's history.
type Transition struct {
	State RequestState `json:"State"`
	By    string       `json:"By"`
	At    time.Time    `json:"At"`
	Note  string       `json:"Note"`
	// The actor's 職名 and 所属 at the time, for forms 2 and 3.
	JobTitle string `json:"JobTitle,omitempty"`
	Section  string `json:"Section,omitempty"`
}

// Request is a third-party (police) request for footage.
type Request struct {
	ID string `json:"ID"`
	RequestInput
	State            RequestState  `json:"State"`
	AssignedOperator string        `json:"AssignedOperator"`
	Result           *SearchResult `json:"Result,omitempty"`
	Decision         *Decision     `json:"Decision,omitempty"`
	Export           *ExportRecord `json:"Export,omitempty"`
	Provision        *Provision    `json:"Provision,omitempty"`
	HoldIDs          []string      `json:"HoldIDs"`
	CreatedBy        string        `json:"CreatedBy"`
	CreatedAt        time.Time     `json:"CreatedAt"`
	History          []Transition  `json:"History"`
	// FormsIssued is when each form ("1".."3") was first printed: its
	// 作成日, which later reprints keep.
	FormsIssued map[string]time.Time `json:"FormsIssued,omitempty"`

	// Protection is what the package is encrypted to (ProtectPackage).
	Protection *PackageProtection `json:"Protection,omitempty"`
	// AssignedOperatorKey is the instructed operator's key fingerprint;
	// empty in requests instructed before keys were named.
	AssignedOperatorKey string `json:"AssignedOperatorKey,omitempty"`
	// RecipientKeyByManager: the RecipientKey was named by a manager, so
	// the approval may use it as is. A key an operator named (CreatedBy)
	// is only a note until a manager gives it (ProtectPackage).
	RecipientKeyByManager bool `json:"RecipientKeyByManager,omitempty"`
}

func oneOf(field, v string, set []string) error {
	for _, s := range set {
		if v == s {
			return nil
		}
	}
	return Invalid(field, fmt.Sprintf("must be one of %s", strings.Join(set, ", ")))
}

func (in *RequestInput) validate(now time.Time, p Policy) error {
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = now
	}
	in.ReceivedAt = in.ReceivedAt.UTC()
	required := []struct{ f, v string }{
		{"agency", in.Agency}, {"address", in.ApplicantAddress}, {"representative", in.Representative},
		{"contact", in.ContactPerson}, {"phone", in.Phone},
	}
	for _, r := range required {
		if err := validName(r.f, r.v, 500); err != nil {
			return err
		}
	}
	if err := oneOf("purpose", in.Purpose, Purposes); err != nil {
		return err
	}
	if in.Purpose == "other" && strings.TrimSpace(in.PurposeReason) == "" {
		return Invalid("reason", "required when purpose is other")
	}
	g, ok := p.Ground(in.Ground)
	if !ok {
		return Invalid("ground", fmt.Sprintf("must be one of %s (policy %s)", strings.Join(p.GroundCodes(), ", "), p.Regulation))
	}
	if (g.NeedsNote || in.Ground == "other") && strings.TrimSpace(in.GroundNote) == "" {
		return Invalid("ground_note", "required for ground "+in.Ground+" ("+g.Cite+")")
	}
	if g.NeedsConsent && strings.TrimSpace(in.Consent) == "" {
		return Invalid("consent", "ground "+in.Ground+" ("+g.Cite+") needs the consent of the person shown: who consented and the document that confirms it")
	}
	for _, f := range []struct{ n, v string }{{"reason", in.PurposeReason}, {"ground_note", in.GroundNote},
		{"notes", in.Notes}, {"written_ref", in.WrittenRef}, {"consent", in.Consent}} {
		if err := validText(f.n, f.v, 4000); err != nil {
			return err
		}
	}
	if len(in.Cameras) == 0 {
		return Invalid("cameras", "at least one camera")
	}
	seen := map[string]bool{}
	for _, c := range in.Cameras {
		if err := validID("cameras", c); err != nil {
			return err
		}
		if seen[c] {
			return Invalid("cameras", "duplicate camera "+c)
		}
		seen[c] = true
	}
	if err := checkDate("received", in.ReceivedAt, now, windowReceived); err != nil { // dates.go
		return err
	}
	if err := checkRange(in.From, in.To, now, maxRequestSpan); err != nil {
		return err
	}
	in.From, in.To = in.From.UTC(), in.To.UTC()
	if in.RecipientKey != "" {
		n, _, err := ParseRecipientKey(in.RecipientKey)
		if err != nil {
			return err
		}
		in.RecipientKey = n
	}
	return nil
}

func getRequest(tx *bolt.Tx, id string) (Request, error) {
	var r Request
	found, err := getJSON(tx.Bucket(bRequests), id, &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, notFound("request", id)
	}
	return r, nil
}

func putRequest(tx *bolt.Tx, r Request) error { return putJSON(tx.Bucket(bRequests), r.ID, r) }

func stateConflict(r Request, step string) error {
	return fmt.Errorf("%w: request %s is %s; cannot %s", ErrConflict, r.ID, r.State, step)
}

// RegisterRequest registers form 2 and places a provisional hold on every
// named camera's range so the footage outlives the paperwork.
func (s *Store) RegisterRequest(actor Actor, in RequestInput) (Request, error) {
	if !Allowed(actor.Role, ActionRequestRegister) {
		return Request{}, s.deny(actor, ActionRequestRegister, "")
	}
	now := s.nowUTC()
	if err := in.validate(now, s.policy); err != nil {
		return Request{}, err
	}
	in.Cameras = append([]string(nil), in.Cameras...)
	days := s.policy.ProvisionalHoldDays
	if days <= 0 {
		days = 60
	}
	until := now.Add(time.Duration(days) * 24 * time.Hour)

	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	// A request is registered even if the ring's hold share is exhausted;
	// the ledger says which provisional holds could not be placed.
	plan, capNote, err := s.provisionalPlan(actor, in.Cameras, in.From, in.To, now, until) // holds.go
	if err != nil {
		return Request{}, err
	}
	var out Request
	_, err = s.mutate(actor, ActionRequestRegister, "", func(tx *bolt.Tx) ([]draft, error) {
		for _, c := range in.Cameras {
			cam, err := getCamera(tx, c)
			if isNotFound(err) {
				return nil, Invalid("cameras", "unknown camera "+c)
			}
			if err != nil {
				return nil, err
			}
			_ = cam
		}
		id, err := nextID(tx, "R", now)
		if err != nil {
			return nil, err
		}
		r := Request{ID: id, RequestInput: in, State: StateRegistered, CreatedBy: actor.label(), CreatedAt: now,
			History: []Transition{transition(tx, actor, StateRegistered, now, "")}}
		if in.RecipientKey != "" {
			if err := recipientNotStaff(tx, in.RecipientKey); err != nil {
				return nil, err
			}
			r.RecipientKeyByManager = actor.Role == RoleManager
		}
		var drafts []draft
		det := map[string]string{
			"agency": in.Agency, "purpose": in.Purpose, "ground": in.Ground, "cameras": strings.Join(in.Cameras, ","),
			"from": fmtTime(in.From), "to": fmtTime(in.To), "received": fmtTime(in.ReceivedAt),
		}
		drafts = append(drafts, draft{Subject: id, Details: det})
		for _, c := range in.Cameras {
			if in.Consent != "" {
				det["consent"] = in.Consent
			}
			if note, refused := capNote[c]; refused {
				det["hold_refused_"+c] = note
				continue
			}
			hid, err := nextID(tx, "H", now)
			if err != nil {
				return nil, err
			}
			hr := plan[c]
			h := Hold{ID: hid, Camera: c, Reason: ReasonProvisional, Kind: HoldProvisional, RequestID: id,
				CreatedBy: actor.label(), CreatedByKey: actor.Fingerprint, From: hr.From, To: hr.To, Until: until, CreatedAt: now}
			if err := putJSON(tx.Bucket(bHolds), hid, h); err != nil {
				return nil, err
			}
			r.HoldIDs = append(r.HoldIDs, hid)
			drafts = append(drafts, draft{Action: ActionHoldAdd, Subject: hid, Details: holdDetails(h)})
		}
		if err := putRequest(tx, r); err != nil {
			return nil, err
		}
		out = r
		return drafts, nil
	})
	if err != nil {
		return Request{}, err
	}
	s.refreshHolds()
	return out, nil
}

// step is one state-machine transition: from-states, the new state and a
// mutation of the request. All checks run inside the transaction, so of
// two racing callers exactly one wins.
func (s *Store) step(actor Actor, action Action, id, verb string, from []RequestState, to RequestState,
	apply func(r *Request, now time.Time) (map[string]string, error), holds holdStep) (Request, error) {
	if !Allowed(actor.Role, action) {
		return Request{}, s.deny(actor, action, id)
	}
	now := s.nowUTC()
	var out Request
	_, err := s.mutate(actor, action, id, func(tx *bolt.Tx) ([]draft, error) {
		r, err := getRequest(tx, id)
		if err != nil {
			return nil, err
		}
		ok := false
		for _, f := range from {
			ok = ok || r.State == f
		}
		if !ok {
			return nil, stateConflict(r, verb)
		}
		det, err := apply(&r, now)
		if err != nil {
			return nil, err
		}
		if det == nil {
			det = map[string]string{}
		}
		det["from_state"], det["state"] = string(r.State), string(to)
		note := det["note"]
		if note == "" {
			note = det["reason"]
		}
		if note == "" {
			note = det["judgement"]
		}
		r.State = to
		r.History = append(r.History, transition(tx, actor, to, now, note))
		drafts := []draft{{Subject: id, Details: det}}
		if holds != nil {
			hd, err := holds(tx, &r, now)
			if err != nil {
				return nil, err
			}
			drafts = append(drafts, hd...)
		}
		if err := putRequest(tx, r); err != nil {
			return nil, err
		}
		out = r
		return drafts, nil
	})
	if err != nil {
		return Request{}, err
	}
	if holds != nil {
		s.refreshHolds()
	}
	return out, nil
}

// holdStep changes the request's provisional holds in the transaction of
// a step, after the step's own change (step's caller passes one or nil).
type holdStep func(tx *bolt.Tx, r *Request, now time.Time) ([]draft, error)

// lapseProvisional shortens the request's provisional holds to end after
// the policy's grace period (footage no longer needed once denied/closed).
func (s *Store) lapseProvisional(tx *bolt.Tx, r *Request, now time.Time) ([]draft, error) {
	until := now.Add(s.policy.ProvisionalHoldGrace)
	var drafts []draft
	b := tx.Bucket(bHolds)
	for _, hid := range r.HoldIDs {
		var h Hold
		found, err := getJSON(b, hid, &h)
		if err != nil {
			return nil, err
		}
		if !found || !h.ReleasedAt.IsZero() || h.Kind != HoldProvisional || !h.Until.After(until) {
			continue
		}
		h.Until = until
		if err := putJSON(b, hid, h); err != nil {
			return nil, err
		}
		drafts = append(drafts, draft{Action: ActionHoldRelease, Subject: hid, Details: map[string]string{
			"camera": h.Camera, "request": r.ID, "until": fmtTime(until),
			"reason": ReasonHoldLapse, "request_state": string(r.State)}})
	}
	return drafts, nil
}

// InstructSearch: the manager instructs an operator to search.
func (s *Store) InstructSearch(actor Actor, id, operator string) (Request, error) {
	if _, err := s.authorize(actor, ActionRequestInstruct, id); err != nil {
		return Request{}, err
	}
	if err := validName("operator", operator, 200); err != nil {
		return Request{}, err
	}
	// The operator is an enrolled key (found by fingerprint or by name),
	// shown by name; the key decides who may record the result.
	op, err := s.assignableOperator(strings.TrimSpace(operator))
	if err != nil {
		return Request{}, err
	}
	return s.step(actor, ActionRequestInstruct, id, "instruct a search", []RequestState{StateRegistered, StateInstructed}, StateInstructed,
		func(r *Request, now time.Time) (map[string]string, error) {
			if r.State == StateInstructed && r.AssignedOperatorKey == op.Fingerprint {
				return nil, stateConflict(*r, "instruct the same operator again")
			}
			r.AssignedOperator, r.AssignedOperatorKey = op.Name, op.Fingerprint
			return map[string]string{"operator": op.Name, "operator_key": op.Fingerprint}, nil
		}, nil)
}

func normOutcome(v string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "found", "yes":
		return "found", nil
	case "not-found", "notfound", "no":
		return "not-found", nil
	case "other":
		return "other", nil
	}
	return "", Invalid("found", "must be found (yes), not-found (no) or other")
}

// RecordResult: the operator records the search result (form 3) and,
// when footage was found, the ranges found on each camera (000 §9-2: the
// needed range, found by search and playback). Found needs at least one
// range; not-found takes none.
func (s *Store) RecordResult(actor Actor, id, found, note string, ranges ...FoundRange) (Request, error) {
	scope, err := s.authorize(actor, ActionRequestResult, id)
	if err != nil {
		return Request{}, err
	}
	outcome, err := normOutcome(found)
	if err == nil && outcome == "other" && strings.TrimSpace(note) == "" {
		err = Invalid("note", "required when the result is other")
	}
	if err == nil {
		err = validText("note", note, 4000)
	}
	if err == nil {
		switch {
		case outcome == "found" && len(ranges) == 0:
			err = Invalid("ranges", "a found result names the ranges found on each camera")
		case outcome == "not-found" && len(ranges) > 0:
			err = Invalid("ranges", "a not-found result has no ranges")
		case len(ranges) > maxFoundRanges:
			err = Invalid("ranges", fmt.Sprintf("at most %d ranges", maxFoundRanges))
		}
	}
	if err != nil {
		return Request{}, err
	}
	req, err := s.step(actor, ActionRequestResult, id, "record a result", []RequestState{StateInstructed}, StateSearched,
		func(r *Request, now time.Time) (map[string]string, error) {
			// The search is the instructed operator's (000 §9-2); the
			// manager, who may do all an operator may, can also record it.
			if scope.AssignedOnly && !r.AssignedTo(actor) {
				return nil, errNotAssigned
			}
			within := requestedRanges(*r)
			got, err := normRanges(ranges, within, "outside the requested cameras and range")
			if err != nil {
				return nil, err
			}
			r.Result = &SearchResult{Outcome: outcome, Note: note, By: actor.label(), At: now, Found: got, Ranged: true}
			return map[string]string{"outcome": outcome, "note": note, "found": fmtRanges(got)}, nil
		}, nil)
	if errors.Is(err, errNotAssigned) {
		return Request{}, fmt.Errorf("%w (the search was instructed to another operator)", s.deny(actor, ActionRequestResult, id))
	}
	return req, err
}

// errNotAssigned: an operator tried to record a search instructed to
// somebody else.
var errNotAssigned = errors.New("search instructed to another operator")

// requestedRanges is the request's whole range on each named camera.
func requestedRanges(r Request) []FoundRange {
	out := make([]FoundRange, 0, len(r.Cameras))
	for _, c := range r.Cameras {
		out = append(out, FoundRange{Camera: c, From: r.From, To: r.To})
	}
	return out
}

// FoundRanges is what the search found: the recorded ranges, or for a
// result recorded before ranges existed, the whole request.
func (r Request) FoundRanges() []FoundRange {
	if r.Result == nil || r.Result.Outcome == "not-found" {
		return nil
	}
	if len(r.Result.Found) > 0 || r.Result.Ranged {
		return r.Result.Found
	}
	return requestedRanges(r)
}

// ApprovedRanges is exactly what an approved request may export.
func (r Request) ApprovedRanges() []FoundRange {
	if r.Decision == nil || !r.Decision.Approved {
		return nil
	}
	if len(r.Decision.Ranges) > 0 {
		return r.Decision.Ranges
	}
	return r.FoundRanges() // approved before approvals named ranges
}

// normRanges checks each range lies within one of within (same camera),
// sorts them by camera and time and merges overlaps.
func normRanges(in, within []FoundRange, outside string) ([]FoundRange, error) {
	out := make([]FoundRange, 0, len(in))
	for _, g := range in {
		g.From, g.To = g.From.UTC(), g.To.UTC()
		if err := validID("ranges", g.Camera); err != nil {
			return nil, err
		}
		if g.From.IsZero() || !g.From.Before(g.To) {
			return nil, Invalid("ranges", "camera "+g.Camera+": each range needs from before to")
		}
		ok := false
		for _, w := range within {
			if w.Camera == g.Camera && !g.From.Before(w.From) && !g.To.After(w.To) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, Invalid("ranges", fmt.Sprintf("%s %s..%s is %s", g.Camera, fmtTime(g.From), fmtTime(g.To), outside))
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Camera != out[j].Camera {
			return out[i].Camera < out[j].Camera
		}
		return out[i].From.Before(out[j].From)
	})
	merged := out[:0]
	for _, g := range out {
		if n := len(merged); n > 0 && merged[n-1].Camera == g.Camera && !g.From.After(merged[n-1].To) {
			if g.To.After(merged[n-1].To) {
				merged[n-1].To = g.To
			}
			continue
		}
		merged = append(merged, g)
	}
	return merged, nil
}

// fmtRanges is ranges as one ledger detail: "cam1 T1/T2, cam2 T1/T2".
// FormatRanges is ranges as the ledger's approval entry states them
// (detail "ranges"), for a verifier comparing a manifest with it.
func FormatRanges(rs []FoundRange) string { return fmtRanges(rs) }

func fmtRanges(rs []FoundRange) string {
	parts := make([]string, len(rs))
	for i, g := range rs {
		parts[i] = g.Camera + " " + fmtTime(g.From) + "/" + fmtTime(g.To)
	}
	return strings.Join(parts, ", ")
}

// transition is one history step naming the actor with the 職名 and
// 所属 their key carries now.
func transition(tx *bolt.Tx, actor Actor, to RequestState, now time.Time, note string) Transition {
	t := Transition{State: to, By: actor.label(), At: now, Note: note}
	if k, ok := personOf(tx, actor.Fingerprint); ok {
		t.JobTitle, t.Section = k.JobTitle, k.Section
	}
	return t
}

// Approve: the manager approves the export of what was found, stating the
// regulation's judgement (000 §8: no undue infringement of anyone's rights
// and interests; 001 §6: necessity). The approval covers exactly the
// found ranges, or the part of them the manager names.
func (s *Store) Approve(actor Actor, id string, in ApprovalInput) (Request, error) {
	if _, err := s.authorize(actor, ActionRequestApprove, id); err != nil {
		return Request{}, err
	}
	in.Judgement, in.Consent = strings.TrimSpace(in.Judgement), strings.TrimSpace(in.Consent)
	err := validName("judgement", in.Judgement, 4000)
	if err == nil {
		err = validText("consent", in.Consent, 4000)
	}
	if err == nil && len(in.Ranges) > maxFoundRanges {
		err = Invalid("ranges", fmt.Sprintf("at most %d ranges", maxFoundRanges))
	}
	if err != nil {
		return Request{}, err
	}
	return s.step(actor, ActionRequestApprove, id, "approve", []RequestState{StateSearched}, StateApproved,
		func(r *Request, now time.Time) (map[string]string, error) {
			found := r.FoundRanges()
			if len(found) == 0 {
				return nil, fmt.Errorf("%w: request %s: nothing was found to approve", ErrConflict, r.ID)
			}
			if g, ok := s.policy.Ground(r.Ground); ok && g.NeedsConsent && r.Consent == "" {
				if in.Consent == "" {
					return nil, Invalid("consent", "ground "+r.Ground+" ("+g.Cite+") needs the recorded consent of the person shown")
				}
				r.Consent = in.Consent
			}
			approved := found
			if len(in.Ranges) > 0 {
				var err error
				if approved, err = normRanges(in.Ranges, found, "outside what the search found"); err != nil {
					return nil, err
				}
			}
			r.Decision = &Decision{Approved: true, By: actor.label(), At: now, Judgement: in.Judgement, Ranges: approved}
			det := map[string]string{"ranges": fmtRanges(approved), "judgement": in.Judgement,
				"judgement_test": s.policy.Judgement.Code}
			if len(in.Ranges) > 0 {
				det["narrowed_from"] = fmtRanges(found)
			}
			if in.Consent != "" {
				det["consent"] = in.Consent
			}
			return det, nil
		}, s.narrowProvisional)
}

// narrowProvisional, at approval, narrows the request's provisional holds
// to the approved ranges and releases the rest at once: footage the
// manager did not approve is no longer needed for the request (000 §7-1,
// 001 §5: no more than necessary). A hold's camera with several approved
// ranges keeps one hold per range (at most maxFoundRanges in all), each
// cut to what the hold held (footage recorded after the request was
// registered was never held and is not held now). Each narrowed or
// released hold is a hold.release entry (reason provisional-narrowed,
// what it held, what it keeps); each extra hold a hold.add entry — all in
// the approval's transaction.
func (s *Store) narrowProvisional(tx *bolt.Tx, r *Request, now time.Time) ([]draft, error) {
	approved := r.ApprovedRanges()
	b := tx.Bucket(bHolds)
	var drafts []draft
	for _, hid := range slices.Clone(r.HoldIDs) {
		var h Hold
		found, err := getJSON(b, hid, &h)
		if err != nil {
			return nil, err
		}
		if !found || !h.ReleasedAt.IsZero() || h.Kind != HoldProvisional {
			continue
		}
		var keep []FoundRange
		for _, a := range approved {
			from, to := a.From, a.To
			if from.Before(h.From) {
				from = h.From
			}
			if to.After(h.To) {
				to = h.To
			}
			if a.Camera == h.Camera && from.Before(to) {
				keep = append(keep, FoundRange{Camera: h.Camera, From: from, To: to})
			}
		}
		if len(keep) == 1 && keep[0].From.Equal(h.From) && keep[0].To.Equal(h.To) {
			continue // approved as held
		}
		det := map[string]string{"camera": h.Camera, "request": r.ID, "reason": ReasonHoldNarrowed,
			"held": fmtTime(h.From) + "/" + fmtTime(h.To), "kept": fmtRanges(keep)}
		if len(keep) == 0 {
			h.ReleasedAt, h.ReleaseReason = now, ReasonHoldNarrowed
		} else {
			h.From, h.To = keep[0].From, keep[0].To
		}
		if err := putJSON(b, hid, h); err != nil {
			return nil, err
		}
		drafts = append(drafts, draft{Action: ActionHoldRelease, Subject: hid, Details: det})
		for _, k := range keep[min(1, len(keep)):] {
			nid, err := nextID(tx, "H", now)
			if err != nil {
				return nil, err
			}
			nh := h
			nh.ID, nh.From, nh.To, nh.CreatedAt = nid, k.From, k.To, now
			if err := putJSON(b, nid, nh); err != nil {
				return nil, err
			}
			r.HoldIDs = append(r.HoldIDs, nid)
			d := holdDetails(nh)
			d["narrowed_from"] = hid
			drafts = append(drafts, draft{Action: ActionHoldAdd, Subject: nid, Details: d})
		}
	}
	return drafts, nil
}

// Deny: the manager denies, with a reason; provisional holds lapse after
// the grace period.
func (s *Store) Deny(actor Actor, id, reason string) (Request, error) {
	if _, err := s.authorize(actor, ActionRequestDeny, id); err != nil {
		return Request{}, err
	}
	if err := validName("reason", reason, 4000); err != nil {
		return Request{}, err
	}
	return s.step(actor, ActionRequestDeny, id, "deny", []RequestState{StateRegistered, StateInstructed, StateSearched}, StateDenied,
		func(r *Request, now time.Time) (map[string]string, error) {
			r.Decision = &Decision{Approved: false, By: actor.label(), At: now, Reason: reason}
			return map[string]string{"reason": reason}, nil
		}, s.lapseProvisional)
}

// RecordExport records the export package written for an approved request.
func (s *Store) RecordExport(actor Actor, id string, rec ExportRecord) (Request, error) {
	if _, err := s.authorize(actor, ActionRequestExport, id); err != nil {
		return Request{}, err
	}
	if err := validName("path", rec.Path, 4096); err != nil {
		return Request{}, err
	}
	if len(rec.Files) == 0 {
		return Request{}, Invalid("files", "at least one file")
	}
	if len(rec.ManifestHash) != 64 {
		return Request{}, Invalid("manifest_hash", "must be a hex SHA-256")
	}
	rec.Files = append([]ExportFile(nil), rec.Files...)
	return s.step(actor, ActionRequestExport, id, "record an export", []RequestState{StateApproved}, StateExported,
		func(r *Request, now time.Time) (map[string]string, error) {
			rec.By, rec.At = actor.label(), now
			if r.Protection != nil {
				rec.Protection, rec.KeyID = r.Protection.Method, r.Protection.KeyID
			}
			r.Export = &rec
			var bytes int64
			for _, f := range rec.Files {
				bytes += f.Bytes
			}
			det := exportDetails(rec, bytes)
			if len(rec.Damaged) > 0 {
				det["damaged"] = exportGapsText(rec.Damaged)
			}
			return det, nil
		}, nil)
}

// exportGapsText names the damaged intervals of an export for its ledger
// entry: at most 20, then a count.
func exportGapsText(gaps []ExportGap) string {
	var b strings.Builder
	for i, g := range gaps {
		if i == 20 {
			fmt.Fprintf(&b, "; and %d more", len(gaps)-20)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s..%s", g.Camera, fmtTime(g.From), fmtTime(g.To))
	}
	return b.String()
}

// RecordProvision records the handover with identity check (manager).
func (s *Store) RecordProvision(actor Actor, id string, p Provision) (Request, error) {
	if _, err := s.authorize(actor, ActionRequestProvide, id); err != nil {
		return Request{}, err
	}
	for _, f := range []struct{ n, v string }{{"recipient", p.Recipient}, {"agency", p.Agency}, {"id_doc", p.IDDocType}} {
		if err := validName(f.n, f.v, 500); err != nil {
			return Request{}, err
		}
	}
	if err := validText("written_ref", p.WrittenRef, 4000); err != nil {
		return Request{}, err
	}
	if err := validText("medium", p.Medium, 500); err != nil {
		return Request{}, err
	}
	out, err := s.step(actor, ActionRequestProvide, id, "record the provision", []RequestState{StateExported}, StateProvided,
		func(r *Request, now time.Time) (map[string]string, error) {
			if p.WrittenRef == "" {
				p.WrittenRef = r.WrittenRef
			}
			if strings.TrimSpace(p.WrittenRef) == "" {
				return nil, Invalid("written_ref", "the written request's reference is required (at registration or here)")
			}
			if p.Date.IsZero() {
				p.Date = now
			}
			p.Date = p.Date.UTC()
			p.By, p.At = actor.label(), now
			r.Provision = &p
			det := map[string]string{"recipient": p.Recipient, "agency": p.Agency, "id_doc": p.IDDocType,
				"written_ref": p.WrittenRef, "date": fmtTime(p.Date)}
			if p.Medium != "" {
				det["medium"] = p.Medium
			}
			return det, nil
		}, nil)
	if err == nil {
		s.eraseHandedOver(id) // the appliance's copy goes once handed over (unless held)
		if fresh, ferr := s.Request(actor, id); ferr == nil {
			out = fresh
		}
	}
	return out, err
}

// CloseRequest closes a request that was provided, denied, or searched
// with nothing to export (manager). Provisional holds lapse after grace.
func (s *Store) CloseRequest(actor Actor, id string) (Request, error) {
	return s.step(actor, ActionRequestClose, id, "close", []RequestState{StateProvided, StateDenied, StateSearched}, StateClosed,
		func(r *Request, now time.Time) (map[string]string, error) {
			if r.State == StateSearched && r.Result != nil && r.Result.Outcome != "not-found" {
				return nil, fmt.Errorf("%w: request %s found footage; approve or deny it before closing", ErrConflict, r.ID)
			}
			return nil, nil
		}, s.lapseProvisional)
}

// Request returns one request.
func (s *Store) Request(actor Actor, id string) (Request, error) {
	if err := s.check(actor, ActionRequestsRead, id); err != nil {
		return Request{}, err
	}
	var r Request
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRequest(tx, id)
		return err
	})
	return r, err
}

// Requests lists all requests, newest first.
func (s *Store) Requests(actor Actor) ([]Request, error) {
	out, err := readAll[Request](s, actor, ActionRequestsRead, bRequests)
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, err
}

// ApprovedRange tells the recorder what an approved request may export:
// exactly the approved ranges, per camera.
func (s *Store) ApprovedRange(actor Actor, id string) ([]FoundRange, error) {
	r, err := s.Request(actor, id)
	if err != nil {
		return nil, err
	}
	if r.State != StateApproved {
		return nil, stateConflict(r, "export")
	}
	return r.ApprovedRanges(), nil
}

// IssueForm returns the request for printing form n (2 or 3) and keeps
// the date the form was first issued, its 作成日: the first print is
// recorded (and ledgered), later reprints show the same date.
func (s *Store) IssueForm(actor Actor, id string, n int) (Request, error) {
	if !Allowed(actor.Role, ActionFormIssue) {
		return Request{}, s.deny(actor, ActionFormIssue, id)
	}
	if n != 2 && n != 3 {
		return Request{}, Invalid("form", "forms 2 and 3 belong to a request")
	}
	r, err := s.Request(actor, id)
	if err != nil {
		return Request{}, err
	}
	key := strconv.Itoa(n)
	if _, issued := r.FormsIssued[key]; issued {
		return r, nil
	}
	now := s.nowUTC()
	_, err = s.mutate(actor, ActionFormIssue, id, func(tx *bolt.Tx) ([]draft, error) {
		cur, err := getRequest(tx, id)
		if err != nil {
			return nil, err
		}
		if _, issued := cur.FormsIssued[key]; issued {
			r = cur
			return nil, nil // a concurrent print won
		}
		if cur.FormsIssued == nil {
			cur.FormsIssued = map[string]time.Time{}
		}
		cur.FormsIssued[key] = now
		if err := putRequest(tx, cur); err != nil {
			return nil, err
		}
		r = cur
		return []draft{{Subject: id, Details: map[string]string{"form": key, "state": string(cur.State)}}}, nil
	})
	return r, err
}
