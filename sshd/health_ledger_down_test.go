package sshd

import (
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// The ledger's disk stalls: a login entry does not commit. `health`
// answers without waiting for it (healthLoginWait), says so, and its
// login is committed when the disk responds, followed by a logout that
// says the login was recorded after the command ran. Every other command
// still waits for its login.
func TestHealthAnswersWhileTheLedgerIsStalled(t *testing.T) {
	f := newFixture(t, nil)
	real := f.srv.recordSession
	release := make(chan struct{})
	var loginDone atomic.Bool
	logouts := make(chan map[string]string, 4)
	f.srv.recordSession = func(a core.Actor, act core.Action, remote string, d map[string]string) error {
		if act == core.ActionLogin {
			select { // the stalled disk; a generous bound so a regression fails instead of hanging
			case <-release:
			case <-time.After(20 * time.Second):
			}
			defer loginDone.Store(true)
		}
		err := real(a, act, remote, d)
		if act == core.ActionLogout {
			logouts <- d
		}
		return err
	}
	out, errOut, code := f.run(f.tech, "health --json")
	if loginDone.Load() {
		t.Fatal("health waited for its login entry while the ledger was stalled")
	}
	if code != 0 || !strings.Contains(out, `"alerts"`) || !strings.Contains(errOut, "entered in the ledger once it does") {
		t.Fatalf("health with the ledger stalled: code %d out %q err %q", code, out, errOut)
	}
	close(release)
	select {
	case d := <-logouts:
		if !loginDone.Load() || !strings.HasPrefix(d["login_recorded"], "after the command ran") {
			t.Fatalf("logout %v (login committed: %v)", d, loginDone.Load())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no logout entry after the ledger recovered")
	}
}
