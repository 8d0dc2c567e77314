package core

import (
	"fmt"
	"strings"
)

// Role is an ordered access level. Permissions are decided by the table
// in permissions.go, never by "role >= x". The numbering is frozen: v1
// ledger entries stored the role as this byte (v2 stores the name), so
// add new roles only at the end.
type Role uint8

const (
	RoleNone Role = iota
	RoleViewer
	RoleTechnician
	RoleOperator
	RoleManager
	// RoleSystem is internal: the recorder and the offline CLI act as system.
	RoleSystem
)

var roleNames = [...]string{
	RoleNone:       "none",
	RoleViewer:     "viewer",
	RoleTechnician: "technician",
	RoleOperator:   "operator",
	RoleManager:    "manager",
	RoleSystem:     "system",
}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// MarshalText encodes the role by name.
func (r Role) MarshalText() ([]byte, error) {
	if int(r) >= len(roleNames) {
		return nil, Invalid("role", fmt.Sprintf("unknown role %d", uint8(r)))
	}
	return []byte(r.String()), nil
}

// UnmarshalText accepts every role name, including "system" and "none",
// so stored records round-trip; ParseRole is the stricter user-facing parser.
func (r *Role) UnmarshalText(b []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(b)))
	for i, n := range roleNames {
		if n == s {
			*r = Role(i)
			return nil
		}
	}
	return Invalid("role", fmt.Sprintf("unknown role %q", s))
}

// ParseRole parses a role a person can be given: manager, operator,
// technician or viewer. "system" is internal and refused here.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "manager":
		return RoleManager, nil
	case "operator":
		return RoleOperator, nil
	case "technician":
		return RoleTechnician, nil
	case "viewer":
		return RoleViewer, nil
	}
	return RoleNone, Invalid("role", fmt.Sprintf("%q is not one of manager, operator, technician, viewer", s))
}

// Actor is who performs an action: the SSH key's fingerprint and name, and
// the role the key was enrolled with.
type Actor struct {
	Fingerprint string
	Name        string
	Role        Role
}

// SystemActor is the appliance itself (recorder, config sync, offline CLI).
func SystemActor(name string) Actor {
	if name == "" {
		name = "system"
	}
	return Actor{Fingerprint: "system:" + name, Name: name, Role: RoleSystem}
}

func (a Actor) label() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Fingerprint
}
