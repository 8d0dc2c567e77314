package sshd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mimamori/core"
)

var rangeArgs = dated(" --from DAY0T00:00:00+09:00 --to DAY0T01:00:00+09:00")

func TestTechnicianCommands(t *testing.T) {
	f := newFixture(t, nil)

	out, errOut, code := f.run(f.tech, "whoami")
	if code != 0 || !strings.Contains(out, "hoshu") || !strings.Contains(out, "technician") {
		t.Fatalf("whoami: code %d out %q err %q", code, out, errOut)
	}
	out, errOut, code = f.run(f.tech, "health")
	if code != 0 || !strings.Contains(out, "20.0 GiB") || !strings.Contains(out, "cam1") {
		t.Fatalf("health: code %d out %q err %q", code, out, errOut)
	}
	out, _, code = f.run(f.tech, "health --json")
	var h healthJSON
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || h.Ring.CapacityBytes != 20<<30 || len(h.Cameras) != 1 {
		t.Fatalf("health --json: code %d out %q", code, out)
	}

	for _, c := range []struct{ cmd, want string }{
		{"ledger", "forbidden: technician may not ledger.read"},
		{"recordings cam1" + rangeArgs, "forbidden: technician may not recordings.read"},
		{"ledger verify", "forbidden: technician may not ledger.verify"},
	} {
		out, errOut, code := f.run(f.tech, c.cmd)
		if code != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%s: code %d stdout %q stderr %q; want exit 1 and %q", c.cmd, code, out, errOut, c.want)
		}
	}
	es := f.entries()
	for _, tried := range []core.Action{core.ActionLedgerRead, core.ActionRecordingsRead, core.ActionLedgerVerify} {
		if !hasEntry(es, func(e core.Entry) bool {
			return e.Action == core.ActionDenied && e.Actor.Fingerprint == f.tech.actor.Fingerprint &&
				e.Details["tried"] == string(tried)
		}) {
			t.Errorf("denied %s not in the ledger", tried)
		}
	}
}

func TestManagerLedgerAndVerify(t *testing.T) {
	f := newFixture(t, nil)
	out, errOut, code := f.run(f.manager, "ledger verify")
	if code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("ledger verify: code %d out %q err %q", code, out, errOut)
	}
	out, _, code = f.run(f.manager, "ledger verify --json")
	var v verifyJSON
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.OK || v.Entries == 0 {
		t.Fatalf("ledger verify --json: code %d out %q", code, out)
	}
	out, _, code = f.run(f.manager, "ledger verify --lang ja")
	if code != 0 || !strings.Contains(out, "台帳は正常です") {
		t.Fatalf("ledger verify --lang ja: code %d out %q", code, out)
	}

	out, _, code = f.run(f.manager, "ledger --json --since 2")
	var es []entryJSON
	if code != 0 || json.Unmarshal([]byte(out), &es) != nil || len(es) == 0 {
		t.Fatalf("ledger --json: code %d out %q", code, out)
	}
	if es[0].Seq != 2 {
		t.Errorf("--since 2 starts at %d", es[0].Seq)
	}
	for _, e := range es {
		if ts, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || ts.Location() != time.UTC {
			t.Errorf("entry %d time %q is not UTC RFC 3339", e.Seq, e.Time)
		}
	}
	out, _, code = f.run(f.manager, "ledger")
	if code != 0 || !strings.Contains(out, "key.enroll") || !strings.Contains(out, "+09:00") {
		t.Fatalf("ledger: code %d out %q", code, out)
	}
}

func TestOperatorCommands(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.store.AddCamera(f.manager.actor, core.Camera{ID: "cam1", Name: "正門", Location: "正門前",
		URL: "rtsp://user:secret@10.0.0.5/stream", SignPosted: true}); err != nil {
		t.Fatal(err)
	}
	out, _, code := f.run(f.oper, "cameras --json")
	var cams []cameraJSON
	if code != 0 || json.Unmarshal([]byte(out), &cams) != nil || len(cams) != 1 || cams[0].ID != "cam1" {
		t.Fatalf("cameras --json: code %d out %q", code, out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("camera credentials printed: %s", out)
	}
	out, _, code = f.run(f.oper, "cameras --lang ja")
	if code != 0 || !strings.Contains(out, "設置箇所") || !strings.Contains(out, "正門前") {
		t.Fatalf("cameras ja: code %d out %q", code, out)
	}
	out, errOut, code := f.run(f.oper, "recordings cam1"+rangeArgs+" --json")
	var rec recordingsJSON
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || len(rec.Spans) != 2 {
		t.Fatalf("recordings --json: code %d out %q err %q", code, out, errOut)
	}
	if rec.From != dated("DAY-1T15:00:00Z") {
		t.Errorf("from = %q, want UTC", rec.From)
	}
	out, _, code = f.run(f.oper, "recordings cam1"+rangeArgs)
	if code != 0 || !strings.Contains(out, dated("DAY0T00:00:00+09:00")) {
		t.Fatalf("recordings: code %d out %q", code, out)
	}
	// Operators read the ledger, but only their own entries.
	out, _, code = f.run(f.oper, "ledger --json")
	var es []entryJSON
	if code != 0 || json.Unmarshal([]byte(out), &es) != nil || len(es) == 0 {
		t.Fatalf("operator ledger: code %d out %q", code, out)
	}
	for _, e := range es {
		if e.Actor.Fingerprint != f.oper.actor.Fingerprint {
			t.Errorf("operator sees entry %d of %s", e.Seq, e.Actor.Name)
		}
	}
	// Operators may not verify.
	_, errOut, code = f.run(f.oper, "ledger verify")
	if code != 1 || !strings.Contains(errOut, "forbidden: operator may not ledger.verify") {
		t.Errorf("operator verify: code %d err %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct{ cmd, want string }{
		{"frobnicate", `unknown command "frobnicate"`},
		{"ledger --since x", "--since"},
		{dated("recordings cam1 --from yesterday --to DAY0T01:00:00Z"), "RFC 3339"},
		{"recordings cam1", "required"},
		{"whoami --bogus", "unknown flag"},
		{"whoami --lang fr", "unknown language"},
		{"whoami extra", "unexpected argument"},
	} {
		out, errOut, code := f.run(f.oper, c.cmd)
		if code != 2 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%s: code %d stdout %q stderr %q; want exit 2 and %q", c.cmd, code, out, errOut, c.want)
		}
	}
	// help lists the commands on stdout.
	out, _, code := f.run(f.oper, "help")
	if code != 0 || !strings.Contains(out, "recordings CAMERA --from T --to T") {
		t.Errorf("help: code %d out %q", code, out)
	}
	// A session without pty and without command cannot get the console.
	c, err := f.dial(f.oper)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.NewSession()
	var errb strings.Builder
	s.Stderr = &errb
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	err = s.Wait()
	if err == nil || !strings.Contains(errb.String(), "needs a terminal") {
		t.Errorf("shell without pty: %v %q", err, errb.String())
	}
}

func TestExtraCommandsRegister(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Commands = []Command{{Name: "hello", Usage: "NAME", Summary: "greet", Run: func(env *Env, args []string) int {
			if len(args) != 1 {
				return env.UsageError("hello", "NAME required")
			}
			env.Printf("hello %s from %s (%s)\n", args[0], env.Actor.Name, env.Actor.Role)
			return ExitOK
		}}}
	})
	out, _, code := f.run(f.oper, "hello world")
	if code != 0 || out != "hello world from sousa (operator)\n" {
		t.Fatalf("hello: %d %q", code, out)
	}
	_, errOut, code := f.run(f.oper, "hello")
	if code != 2 || !strings.Contains(errOut, "usage: hello NAME") {
		t.Fatalf("hello usage: %d %q", code, errOut)
	}
}
