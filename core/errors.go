package core

import "errors"

// Sentinel errors. Callers test them with errors.Is; messages wrap them
// with what exactly went wrong.
var (
	ErrForbidden = errors.New("forbidden")
	ErrNotFound  = errors.New("not found")
	ErrInvalid   = errors.New("invalid")
	ErrConflict  = errors.New("conflict")
	// ErrUnavailable: the recorder is not attached (yet).
	ErrUnavailable = errors.New("unavailable")
	// ErrLimited: this key is changing things faster than the per-key
	// rate (changerate.go); wait a moment and try again.
	ErrLimited = errors.New("too many changes by this key in a short time; wait a moment")
)

// Refusal says why a role the permission table allows was refused this
// one act (its scope or the policy: another operator's request). It is
// wrapped together with ErrForbidden; the SSH commands and the console
// print Reason under "forbidden".
type Refusal struct{ Reason string }

func (e *Refusal) Error() string { return e.Reason }

// FieldError names the input field that is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a *FieldError.
func Invalid(field, reason string) error { return &FieldError{Field: field, Reason: reason} }

func asField(err error, fe **FieldError) bool { return errors.As(err, fe) }
