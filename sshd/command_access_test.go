package sshd

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// accessCases is, for every command and subcommand, the core action the
// command ends up asking core for (read off the core call each one
// makes), written independently of the commands' Access tables: a table
// that maps a subcommand to a weaker action fails here.
var accessCases = []struct {
	line   string
	action core.Action
}{
	{"help", core.ActionLogin},
	{"whoami", core.ActionLogin},
	{"health", core.ActionHealthRead},
	{"cameras", core.ActionCamerasRead},
	{"recordings", core.ActionRecordingsRead},
	{"request", core.ActionRequestsRead},
	{"request new", core.ActionRequestRegister},
	{"request show", core.ActionRequestsRead},
	{"request list", core.ActionRequestsRead},
	{"request grounds", core.ActionRequestsRead},
	{"request instruct", core.ActionRequestInstruct},
	{"request result", core.ActionRequestResult},
	{"request approve", core.ActionRequestApprove},
	{"request protect", core.ActionRequestProtect},
	{"request deny", core.ActionRequestDeny},
	{"request export", core.ActionRequestExport},
	{"request provide", core.ActionRequestProvide},
	{"request receipt", core.ActionRequestsRead},
	{"request close", core.ActionRequestClose},
	{"request form2", core.ActionFormIssue},
	{"request form3", core.ActionFormIssue},
	{"hold", core.ActionHoldsRead},
	{"hold add", core.ActionHoldAdd},
	{"hold list", core.ActionHoldsRead},
	{"hold release", core.ActionHoldRelease},
	{"export-passphrase", core.ActionExportPassphrase},
	{"export-passphrase set", core.ActionExportPassphrase},
	{"ledger", core.ActionLedgerRead},
	{"ledger verify", core.ActionLedgerVerify},
	{"ledger checkpoint", core.ActionLedgerCheckpoint},
	{"ledger export", core.ActionLedgerExport},
	{"ledger --machine --csv", core.ActionLedgerExport},
	{"ledger -- --csv", core.ActionLedgerExport}, // runLedger finds --csv past "--" too
	{"form", core.ActionFormIssue},
	{"form 1", core.ActionCamerasRead},
	{"form --json 2", core.ActionFormIssue},
	{"form 3", core.ActionFormIssue},
	{"form receipt", core.ActionRequestsRead},
	{"grant", core.ActionGrantsRead},
	{"grant add", core.ActionViewerGrant},
	{"grant list", core.ActionGrantsRead},
	{"grant revoke", core.ActionViewerRevoke},
	{"inquiry", core.ActionInquiriesRead},
	{"inquiry add", core.ActionInquiryRegister},
	{"inquiry answer", core.ActionInquiryAnswer},
	{"inquiry close", core.ActionInquiryClose},
	{"inquiry show", core.ActionInquiriesRead},
	{"inquiry list", core.ActionInquiriesRead},
	{"maintenance", core.ActionMaintenanceRead},
	{"maintenance add", core.ActionMaintenance},
	{"maintenance list", core.ActionMaintenanceRead},
	{"backup", core.ActionBackup},
	{"camera", core.ActionCamerasRead},
	{"camera remove", core.ActionCameraRemove},
	{"camera sign", core.ActionMaintenance},
	{"camera police", core.ActionCameraUpdate},
	{"camera show", core.ActionCamerasRead},
	{"staff", core.ActionKeysRead},
	{"staff list", core.ActionKeysRead},
	{"staff add", core.ActionKeyEnroll},
	{"staff set", core.ActionKeyProfile},
	{"staff pledge", core.ActionPledge},
	{"staff pledge-text", core.ActionLogin},
	{"staff handover", core.ActionKeyRoleChange},
	{"custody", core.ActionMaintenanceRead},
	{"custody set", core.ActionCustody},
	{"custody show", core.ActionMaintenanceRead},
	{"layout", core.ActionMaintenanceRead},
	{"layout add", core.ActionLayoutPlan},
	{"layout list", core.ActionMaintenanceRead},
	{"layout get", core.ActionMaintenanceRead},
	{"inspections", core.ActionMaintenanceRead},
	{"compliance", core.ActionHealthRead},
	{"view", core.ActionView},
	{"scp", core.ActionExportFetch},
}

// garbage follows every command line: flags no command has, an escape,
// a bidi override and a word where an ID would go.
const garbage = " --no-such-flag=\x1b]0;PWNED\x07 --lang-of-x \u202eevil 9999"

// TestForbiddenBeforeAnyFlag: every command and subcommand, run by every
// role with garbage after it. A role the command's action is forbidden to
// gets "forbidden: ROLE may not ACTION" and nothing else — no usage text,
// no word of the flags — and three such attempts write exactly one
// denied entry (the first of its kind; repeats are counted, not written).
// A role that may run it never reads "forbidden" for garbage: it gets the
// command's own usage error.
func TestForbiddenBeforeAnyFlag(t *testing.T) {
	f := newPolicyFixture(t, core.CompanyTemplate(), func(o *Options) {
		EnableFileTransfer(o)
		EnableViewing(o, noPlayback{})
	})
	f.addCameras("cam1")
	signer, line := newSigner(t)
	f.mustRun(f.manager, grantAdd(line, ""))
	viewer := user{signer: signer, line: line, actor: core.Actor{Role: core.RoleViewer}}
	users := []user{f.manager, f.oper, f.tech, viewer}

	// Every registered command has a case.
	covered := map[string]bool{}
	for _, c := range accessCases {
		covered[strings.Fields(c.line)[0]] = true
	}
	for _, c := range f.srv.cmds.List() {
		if !covered[c.Name] {
			t.Errorf("command %q has no case in accessCases: say which action it needs", c.Name)
		}
	}

	conns := map[core.Role]*gossh.Client{}
	for _, u := range users {
		c, err := f.dial(u)
		if err != nil {
			t.Fatalf("dial as %s: %v", u.actor.Role, err)
		}
		defer c.Close()
		conns[u.actor.Role] = c
	}
	seen := map[string]bool{} // role+action already refused once
	for _, c := range accessCases {
		for _, u := range users {
			role := u.actor.Role
			cmd := c.line + garbage
			if !core.Allowed(role, c.action) {
				head := f.store.LedgerHead()
				for i := 0; i < 3; i++ {
					out, errOut, code := runOn(t, conns[role], cmd)
					want := "forbidden: " + role.String() + " may not " + string(c.action) + "\n"
					if code != ExitError || out != "" || errOut != want {
						t.Fatalf("%q as %s: exit %d, stdout %q, stderr %q; want exit 1 and only %q",
							c.line, role, code, out, errOut, want)
					}
				}
				es, err := f.store.Ledger(f.manager.actor, head+1, 1000)
				if err != nil {
					t.Fatal(err)
				}
				got := 0
				for _, e := range es {
					switch e.Action {
					case core.ActionLogin, core.ActionLogout: // each session's own
					case core.ActionDenied:
						if e.Details["tried"] != string(c.action) || e.Actor.Role != role {
							t.Errorf("%q as %s: denied entry %d tried %q by %s", c.line, role, e.Seq, e.Details["tried"], e.Actor.Role)
						}
						got++
					default:
						t.Errorf("%q as %s: entry %d %s", c.line, role, e.Seq, e.Action)
					}
				}
				kind := role.String() + " " + string(c.action)
				if !seen[kind] && got != 1 || seen[kind] && got > 1 {
					t.Errorf("%q as %s three times: %d denied entries, want %d", c.line, role, got, map[bool]int{false: 1, true: 0}[seen[kind]])
				}
				seen[kind] = true
				continue
			}
			if c.line == "scp" {
				continue // scp reads the rest of the line itself (and refuses a write)
			}
			_, errOut, code := runOn(t, conns[role], cmd)
			if strings.Contains(errOut, "forbidden") || code == ExitOK && !strings.HasPrefix(c.line, "help") {
				t.Errorf("%q as %s (allowed %s) with garbage: exit %d, stderr %q; want its usage error", c.line, role, c.action, code, errOut)
			}
		}
	}
	// The garbage never reached the ledger: nothing after the name was read.
	for _, e := range f.entries() {
		for k, v := range e.Details {
			if strings.Contains(k+v+e.Subject, "PWNED") || strings.Contains(k+v+e.Subject, "evil") {
				t.Errorf("ledger entry %d carries the caller's garbage: %q=%q subject %q", e.Seq, k, v, e.Subject)
			}
		}
	}
}

// runOn runs cmd in a new session of c.
func runOn(t *testing.T, c *gossh.Client, cmd string) (string, string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	err = s.Run(cmd)
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitStatus()
	case err != nil:
		t.Fatalf("run %q: %v", cmd, err)
	}
	return out.String(), errb.String(), 0
}

// noPlayback is a Playback nobody reaches: the commands here stop at
// their permission or their flags.
type noPlayback struct{}

func (noPlayback) Mint(core.ViewGrant) (core.ViewTicket, error) {
	return core.ViewTicket{}, errors.New("no playback in this test")
}
func (noPlayback) Revoke(string)                    {}
func (noPlayback) EndSession(string)                {}
func (noPlayback) Done(string) <-chan struct{}      { return nil }
func (noPlayback) Port() int                        { return 1 }
func (noPlayback) Addr() string                     { return "127.0.0.1:1" }
func (noPlayback) Accepts(string, uint32) bool      { return false }
func (noPlayback) ServeConn(net.Conn, string) error { return errors.New("no playback in this test") }
