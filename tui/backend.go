package tui

import (
	"context"
	"time"

	"mimamori/core"
)

// Backend is exactly what the console calls on core. *core.Store
// satisfies it; tests use a fake. Every call happens inside a tea.Cmd.
type Backend interface {
	Cameras(actor core.Actor) ([]core.Camera, error)
	Requests(actor core.Actor) ([]core.Request, error)
	Request(actor core.Actor, id string) (core.Request, error)
	Ledger(actor core.Actor, since uint64, limit int) ([]core.Entry, error)
	VerifyLedger(actor core.Actor) (core.VerifyReport, error)
	Keys(actor core.Actor) ([]core.Key, error)
	RefusedKeys(actor core.Actor) ([]core.RefusedKey, error)
	EnrollKey(actor core.Actor, name string, role core.Role, authorizedKey string) (core.Key, error)
	RevokeKey(actor core.Actor, fingerprint, reason string) error
	ChangeKeyRole(actor core.Actor, fingerprint string, role core.Role) error
	Holds(actor core.Actor) ([]core.Hold, error)
	Subscribe(ctx context.Context) <-chan core.Change
	Health(actor core.Actor) (core.RecorderStats, error)
	Coverage(actor core.Actor, camera string, from, to time.Time) ([]core.Span, error)
}

// policyBackend is satisfied by *core.Store: the retention target for
// the timelines. Optional so a Backend without it still works.
type policyBackend interface {
	Policy() core.Policy
}
