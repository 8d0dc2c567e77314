package sshd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mimamori/core"
)

// grantUntil is within the 90 days a grant may last (core/dates.go).
var grantUntil = time.Now().UTC().AddDate(0, 0, 30).Truncate(time.Second).Format(time.RFC3339)

func grantAdd(line, extra string) string {
	return `grant add --name "来訪者 田中" --key "` + line + `" --cameras cam1 ` +
		dated(`--from DAY0T09:00:00+09:00 --to DAY0T10:00:00+09:00 --until `) + grantUntil + ` ` +
		`--reason "自治会長の確認 (001 §4)"` + extra
}

func TestGrantRefusedByCityPolicy(t *testing.T) {
	f := newFixture(t, nil) // city standard: no viewers
	f.addCameras("cam1")
	_, line := newSigner(t)
	out, errOut, code := f.run(f.manager, grantAdd(line, ""))
	if code != ExitError || out != "" {
		t.Fatalf("grant add under city policy: exit %d stdout %q", code, out)
	}
	if !strings.Contains(errOut, "policy city-standard allows no viewer grants") {
		t.Errorf("stderr %q does not say the policy forbids viewer grants", errOut)
	}
	if _, errOut, code := f.run(f.oper, grantAdd(line, "")); code != ExitError || !strings.Contains(errOut, "forbidden: operator may not viewer.grant") {
		t.Errorf("operator grant add: exit %d stderr %q", code, errOut)
	}
	if out := f.mustRun(f.manager, "grant list"); !strings.Contains(out, "no viewer grants") {
		t.Errorf("grant list = %q", out)
	}
}

func TestGrantLifecycleOverSSH(t *testing.T) {
	f := newPolicyFixture(t, core.CompanyTemplate(), nil)
	f.addCameras("cam1", "cam2")
	signer, line := newSigner(t)

	id := strings.TrimSpace(f.mustRun(f.manager, grantAdd(line, " --live")))
	if !strings.HasPrefix(id, "G") || strings.ContainsAny(id, " \n") {
		t.Fatalf("grant add printed %q", id)
	}
	viewer := user{signer: signer, line: line}
	var who whoamiJSON
	if err := json.Unmarshal([]byte(f.mustRun(viewer, "whoami --json")), &who); err != nil || who.Role != "viewer" || who.Name != "来訪者 田中" {
		t.Fatalf("viewer whoami = %+v (%v)", who, err)
	}

	var gs []grantJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "grant list --json")), &gs); err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].ID != id || !gs[0].Active || !gs[0].Live || gs[0].From != dated("DAY0T00:00:00Z") ||
		gs[0].Until != grantUntil || len(gs[0].Cameras) != 1 || gs[0].CreatedBy != "kanri" {
		t.Errorf("grant list --json = %+v", gs)
	}
	if out := f.mustRun(f.manager, "grant list"); !strings.Contains(out, id) || !strings.Contains(out, "active") {
		t.Errorf("grant list = %q", out)
	}

	// Field errors name the flag.
	_, other := newSigner(t)
	for _, c := range []struct{ cmd, want string }{
		{strings.Replace(grantAdd(other, ""), `--key "`+other+`"`, `--key "not a key"`, 1), "(--key)"},
		{strings.Replace(grantAdd(other, ""), "--until "+grantUntil, "--until 2001-01-01T00:00:00Z", 1), "(--until)"},
		{strings.Replace(grantAdd(other, ""), dated("--to DAY0T10:00:00+09:00"), dated("--to DAY-1T10:00:00+09:00"), 1), "(--to)"},
	} {
		if _, errOut, code := f.run(f.manager, c.cmd); code != ExitError || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d stderr %q, want %s", c.cmd, code, errOut, c.want)
		}
	}
	if _, _, code := f.run(f.manager, "grant add --name x"); code != ExitUsage {
		t.Errorf("grant add without flags: exit %d", code)
	}
	if _, _, code := f.run(f.manager, "grant revoke "+id); code != ExitUsage {
		t.Errorf("grant revoke without --reason: exit %d", code)
	}
	if _, errOut, code := f.run(f.oper, "grant list"); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator grant list: exit %d stderr %q", code, errOut)
	}

	if out := f.mustRun(f.manager, "grant revoke "+id+" --reason 確認終了"); !strings.Contains(out, "revoked") {
		t.Errorf("grant revoke = %q", out)
	}
	if c, err := f.dial(viewer); err == nil {
		c.Close()
		t.Error("revoked viewer key still logs in")
	}
	if _, errOut, code := f.run(f.manager, "grant revoke "+id+" --reason again"); code != ExitError || !strings.Contains(errOut, "already revoked") {
		t.Errorf("second revoke: exit %d stderr %q", code, errOut)
	}
	if !hasEntry(f.entries(), func(e core.Entry) bool {
		return e.Action == core.ActionViewerRevoke && e.Subject == id && e.Details["reason"] == "確認終了"
	}) {
		t.Error("revocation not in the ledger with its reason")
	}
}
