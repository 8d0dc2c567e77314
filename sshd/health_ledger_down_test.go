package sshd

import (
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"mimamori/core"
)

// The ledger's disk fails (full, or EIO from a dying disk): logins cannot
// be recorded, so every session is refused — except `health`, the
// technician's diagnosis, which shows no footage and no personal data. It
// answers (its alerts are how anyone learns the disk is failing), says the
// login is not in the ledger, and the login goes to the process log.
func TestHealthAnswersWhenTheLedgerCannotWrite(t *testing.T) {
	var failing atomic.Bool
	f := newFixture(t, nil)
	real := f.srv.recordSession
	f.srv.recordSession = func(a core.Actor, act core.Action, remote string, d map[string]string) error {
		if failing.Load() {
			return syscall.ENOSPC
		}
		return real(a, act, remote, d)
	}
	failing.Store(true)
	out, errOut, code := f.run(f.tech, "health --json")
	if code != 0 || !strings.Contains(out, `"alerts"`) {
		t.Fatalf("health with the ledger failing: code %d out %q err %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "not in the ledger") {
		t.Fatalf("health does not say its login is unrecorded: %q", errOut)
	}
	if !strings.Contains(f.logs.String(), "login not in the ledger") || !strings.Contains(f.logs.String(), f.tech.actor.Fingerprint) {
		t.Fatalf("the process log lacks the unrecorded login:\n%s", f.logs.String())
	}
	// Anything else still needs its login entry.
	_, errOut, code = f.run(f.tech, "whoami")
	if code == 0 || !strings.Contains(errOut, "login could not be recorded") {
		t.Fatalf("whoami with the ledger failing: code %d err %q", code, errOut)
	}
	failing.Store(false)
	if _, _, code := f.run(f.tech, "health"); code != 0 {
		t.Fatal("health after the ledger recovered")
	}
}
