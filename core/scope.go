package core

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Scope is how far an allowed action reaches for a role. The permission
// table (permissions.go) says whether a role may act at all; the scope
// says what of it: together they are the only place roles are decided.
// Code outside this file asks Allowed or the scope, never "role == x".
type Scope struct {
	AllLedger       bool // every ledger entry (otherwise only the actor's own)
	CameraState     bool // cameras: state and where it is (to service it); no stream URL, no police consultation
	GrantOnly       bool // footage only within an active grant naming it
	AssignedOnly    bool // search results only on requests assigned to the actor
	InspectionsOnly bool // maintenance: inspections only
	Reserve         bool // may take the sessions and connections kept for managers
	OwnerOfAll      bool // manager: every step of the workflow, every console page
	Bootstrap       bool // the appliance itself: enrols without a person's details (offline bootstrap)
}

var roleScopes = map[Role]Scope{
	RoleManager:    {AllLedger: true, Reserve: true, OwnerOfAll: true},
	RoleOperator:   {AssignedOnly: true},
	RoleTechnician: {CameraState: true, InspectionsOnly: true},
	RoleViewer:     {GrantOnly: true},
	RoleSystem:     {AllLedger: true, Bootstrap: true},
}

// ScopeOf is the scope of role r (the zero Scope for an unknown role,
// which the permission table allows nothing anyway).
func ScopeOf(r Role) Scope { return roleScopes[r] }

// authorize is the one check every entry point runs first: a role the
// permission table does not allow gets ErrForbidden (and a coalesced
// denied entry) before any of its input is looked at; an allowed one gets
// its scope.
func (s *Store) authorize(actor Actor, action Action, subject string) (Scope, error) {
	if !Allowed(actor.Role, action) {
		return Scope{}, s.deny(actor, action, subject)
	}
	return ScopeOf(actor.Role), nil
}

// Authorize is authorize for callers outside core that must refuse before
// doing work of their own (the SSH layer's forwards, the console's pages).
func (s *Store) Authorize(actor Actor, action Action, subject string) (Scope, error) {
	return s.authorize(actor, action, subject)
}

// AssignedTo reports whether the request's search was instructed to a.
// Requests instructed before keys were recorded match by name.
func (r Request) AssignedTo(a Actor) bool {
	if r.AssignedOperatorKey != "" {
		return r.AssignedOperatorKey == a.Fingerprint
	}
	return r.AssignedOperator != "" && r.AssignedOperator == a.Name
}

// assignableOperator finds the active key a search may be instructed
// to: by fingerprint, or by name if exactly one such key has it. Only
// keys whose role works on assignment (operators) qualify.
func (s *Store) assignableOperator(who string) (Key, error) {
	now := s.nowUTC()
	var match []Key
	err := s.db.View(func(tx *bolt.Tx) error {
		ks, err := listJSON[Key](tx, bKeys)
		for _, k := range ks {
			if !k.Active(now) || !ScopeOf(k.Role).AssignedOnly || !Allowed(k.Role, ActionRequestResult) {
				continue
			}
			if k.Fingerprint == who || k.Name == who {
				match = append(match, k)
			}
		}
		return err
	})
	switch {
	case err != nil:
		return Key{}, err
	case len(match) == 0:
		return Key{}, Invalid("operator", fmt.Sprintf("%q is not an enrolled, active operator", who))
	case len(match) > 1:
		return Key{}, Invalid("operator", fmt.Sprintf("several operators are called %q; give the key's fingerprint", who))
	}
	return match[0], nil
}
