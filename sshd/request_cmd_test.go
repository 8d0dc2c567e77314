package sshd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"mimamori/core"
)

// runIn is run with stdin.
func (f *fixture) runIn(u user, cmd, stdin string) (string, string, int) {
	f.t.Helper()
	c, err := f.dial(u)
	if err != nil {
		f.t.Fatalf("dial as %s: %v", u.actor.Name, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		f.t.Fatalf("session: %v", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &out, &errb, strings.NewReader(stdin)
	err = s.Run(cmd)
	code := 0
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case err != nil:
		f.t.Fatalf("run %q: %v", cmd, err)
	}
	return out.String(), errb.String(), code
}

func (f *fixture) mustRun(u user, cmd string) string {
	f.t.Helper()
	out, errOut, code := f.run(u, cmd)
	if code != 0 {
		f.t.Fatalf("%s as %s: exit %d, stderr %q", cmd, u.actor.Role, code, errOut)
	}
	return out
}

func (f *fixture) addCameras(ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		if _, err := f.store.AddCamera(f.manager.actor, core.Camera{ID: id, Name: "camera " + id, URL: "rtsp://127.0.0.1/" + id}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// deniedEntries counts the ledger's refusals of action by role.
func (f *fixture) deniedEntries(action core.Action, role core.Role) int {
	f.t.Helper()
	es, err := f.store.Ledger(f.manager.actor, 0, 100000)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == core.ActionDenied && e.Subject == string(action) && e.Actor.Role == role {
			n++
		}
	}
	return n
}

var newReq = `request new --agency "千葉県警察 四街道警察署" --address "千葉県四街道市" --representative "署長 山田" ` +
	`--contact "刑事課 佐藤" --phone 043-000-0000 --purpose investigation --ground law ` +
	dated(`--cameras cam1,cam2 --from DAY0T09:00:00+09:00 --to DAY0T09:30:00+09:00 --notes "窃盗事件" --written-ref 四署刑第12号`)

func TestRequestWorkflowOverSSH(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ExportDir = t.TempDir() })
	f.addCameras("cam1", "cam2")

	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	if !strings.HasPrefix(id, "R") || strings.ContainsAny(id, " \n") {
		t.Fatalf("request new printed %q, want an id", id)
	}
	if out := f.mustRun(f.manager, "request instruct "+id+" --operator sousa"); !strings.Contains(out, "instructed") {
		t.Errorf("instruct: %q", out)
	}
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00 --note 'person seen 09:12'"))

	// The operator may not approve: forbidden, exit 1, refusal ledgered.
	_, errOut, code := f.run(f.oper, "request approve "+id)
	if code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("operator approve: exit %d stderr %q", code, errOut)
	}
	if n := f.deniedEntries(core.ActionRequestApprove, core.RoleOperator); n != 1 {
		t.Errorf("operator approve refusals ledgered = %d, want 1", n)
	}
	f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし'")

	out := f.mustRun(f.oper, "request show "+id+" --json")
	var r requestJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if r.State != "approved" || r.Agency != "千葉県警察 四街道警察署" || r.From != dated("DAY0T00:00:00Z") ||
		r.To != dated("DAY0T00:30:00Z") || len(r.Cameras) != 2 || len(r.HoldIDs) != 2 || r.WrittenRef != "四署刑第12号" {
		t.Errorf("show --json = %+v", r)
	}
	if r.Result == nil || r.Result.Outcome != "found" || r.Result.Note != "person seen 09:12" || r.Result.By != "sousa" {
		t.Errorf("result = %+v", r.Result)
	}
	if r.Decision == nil || !r.Decision.Approved || r.Decision.By != "kanri" {
		t.Errorf("decision = %+v", r.Decision)
	}
	wantSteps := []struct{ state, by string }{{"registered", "sousa"}, {"instructed", "kanri"}, {"searched", "sousa"}, {"approved", "kanri"}}
	if len(r.History) != len(wantSteps) {
		t.Fatalf("history = %+v", r.History)
	}
	for i, w := range wantSteps {
		h := r.History[i]
		if h.State != w.state || h.By != w.by || !strings.HasSuffix(h.At, "Z") {
			t.Errorf("history[%d] = %+v, want %v", i, h, w)
		}
		if _, err := time.Parse(time.RFC3339, h.At); err != nil {
			t.Errorf("history[%d].at: %v", i, err)
		}
	}

	// Human output: every form-2 field and the history, local times.
	out = f.mustRun(f.oper, "request show "+id)
	for _, want := range []string{"千葉県四街道市", "署長 山田", "刑事課 佐藤", "043-000-0000", "investigation",
		"cam1, cam2", dated("DAY0T09:00:00+09:00"), "窃盗事件", "四署刑第12号", "person seen 09:12", "history:", "approved", "kanri", "sousa"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Logf("request show:\n%s", out)
	}
	if help := f.mustRun(f.oper, "request help"); !strings.Contains(help, "--written-ref") || !strings.Contains(help, "--id-doc") {
		t.Errorf("request help:\n%s", help)
	}
	out = f.mustRun(f.oper, "request show "+id+" --lang ja")
	for _, want := range []string{"申請機関", "経過", "承認 (approved)", "事後捜査のため", "法令等（条例を含む。）に基づく場合（第８条本文）",
		"検出した範囲", dated("cam1 DAY0T09:10:00+09:00 – DAY0T09:14:00+09:00"), "判断の理由", "不当侵害のおそれなし"} {
		if !strings.Contains(out, want) {
			t.Errorf("show (ja) lacks %q:\n%s", want, out)
		}
	}
	out = f.mustRun(f.oper, "request list")
	if !strings.Contains(out, id) || !strings.Contains(out, "approved") {
		t.Errorf("list: %q", out)
	}
	var list []requestJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "request list --json")), &list); err != nil || len(list) != 1 || list[0].ID != id {
		t.Errorf("list --json: %v %+v", err, list)
	}

	// Each step is in the ledger, naming its actor.
	es, err := f.store.Ledger(f.manager.actor, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[core.Action]string{}
	for _, e := range es {
		if e.Subject == id {
			seen[e.Action] = e.Actor.Name
		}
	}
	for a, by := range map[core.Action]string{core.ActionRequestRegister: "sousa", core.ActionRequestInstruct: "kanri",
		core.ActionRequestResult: "sousa", core.ActionRequestApprove: "kanri"} {
		if seen[a] != by {
			t.Errorf("ledger %s by %q, want %q", a, seen[a], by)
		}
	}

	// Provide before the export: a state conflict, exit 1.
	_, errOut, code = f.run(f.manager, "request provide "+id+" --recipient 佐藤 --agency 四街道警察署 --id-doc 警察手帳")
	if code != ExitError || !strings.Contains(errOut, "approved") {
		t.Errorf("provide before export: exit %d stderr %q", code, errOut)
	}
}

func TestRequestDenyAndClose(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1", "cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	_, errOut, code := f.run(f.manager, "request deny "+id)
	if code != ExitUsage || !strings.Contains(errOut, "--reason") {
		t.Errorf("deny without reason: exit %d stderr %q", code, errOut)
	}
	out := f.mustRun(f.manager, "request deny "+id+" --reason '範囲が広すぎる' --json")
	var r requestJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.State != "denied" || r.Decision == nil ||
		r.Decision.Approved || r.Decision.Reason != "範囲が広すぎる" {
		t.Fatalf("deny --json: %v %+v", err, r)
	}
	f.mustRun(f.manager, "request close "+id)
	out = f.mustRun(f.manager, "request show "+id)
	if !strings.Contains(out, "範囲が広すぎる") || !strings.Contains(out, "closed") {
		t.Errorf("show after close:\n%s", out)
	}
	// Closed is final.
	_, errOut, code = f.run(f.manager, "request approve "+id+" --judgement 'late'")
	if code != ExitError || !strings.Contains(errOut, "closed") {
		t.Errorf("approve closed: exit %d stderr %q", code, errOut)
	}
}

func TestRequestErrors(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1", "cam2")
	cases := []struct {
		name, cmd string
		code      int
		want      string
	}{
		{"bad purpose", strings.Replace(newReq, "--purpose investigation", "--purpose fishing", 1), ExitError, "purpose (--purpose)"},
		{"other without reason", strings.Replace(newReq, "--purpose investigation", "--purpose other", 1), ExitError, "reason (--reason)"},
		{"unknown camera", strings.Replace(newReq, "cam1,cam2", "cam1,cam9", 1), ExitError, "cam9"},
		{"to before from", strings.Replace(newReq, "T09:30:00", "T08:00:00", 1), ExitError, "to (--to)"},
		{"bad time", strings.Replace(newReq, dated("DAY0T09:00:00+09:00"), "yesterday", 1), ExitUsage, "--from"},
		{"missing phone", strings.Replace(newReq, "--phone 043-000-0000", "", 1), ExitUsage, "--phone"},
		{"unknown flag", newReq + " --colour red", ExitUsage, "--colour"},
		{"no subcommand", "request", ExitUsage, "usage"},
		{"unknown subcommand", "request frobnicate", ExitUsage, "frobnicate"},
		{"show without id", "request show", ExitUsage, "missing request ID"},
		{"show unknown", "request show R-nope", ExitError, "not found"},
		{"result bad outcome", "request result R-nope --found maybe", ExitError, "found (--found)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := f.run(f.manager, c.cmd)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("%s: exit %d stderr %q; want exit %d and %q", c.cmd, code, errOut, c.code, c.want)
			}
		})
	}
	if rs, _ := f.store.Requests(f.manager.actor); len(rs) != 0 {
		t.Errorf("%d requests registered by failing commands", len(rs))
	}
}

func TestTechnicianCannotTouchRequests(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1", "cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	seen := map[core.Action]bool{}
	for _, c := range []struct {
		cmd    string
		action core.Action
	}{
		{"request list", core.ActionRequestsRead},
		{"request show " + id, core.ActionRequestsRead},
		{newReq, core.ActionRequestRegister},
		{"request result " + id + dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"), core.ActionRequestResult},
		{"hold list", core.ActionHoldsRead},
	} {
		before := f.deniedEntries(c.action, core.RoleTechnician)
		out, errOut, code := f.run(f.tech, c.cmd)
		if code != ExitError || !strings.Contains(errOut, "forbidden") || out != "" {
			t.Errorf("technician %q: exit %d out %q stderr %q", c.cmd, code, out, errOut)
		}
		if strings.Contains(errOut, "千葉") {
			t.Errorf("technician saw request details: %q", errOut)
		}
		// The first refusal of a kind is ledgered at once; repeats within
		// a minute are counted into one later entry (core/refusals.go).
		want := before + 1
		if seen[c.action] {
			want = before
		}
		seen[c.action] = true
		if after := f.deniedEntries(c.action, core.RoleTechnician); after != want {
			t.Errorf("technician %q: refusals ledgered %d -> %d, want %d", c.cmd, before, after, want)
		}
	}
}

func TestExportPassphraseSet(t *testing.T) {
	f := newFixture(t, nil)
	const secret = "correct horse battery staple"
	out, errOut, code := f.runIn(f.manager, "export-passphrase set", secret+"\n")
	if code != 0 || strings.Contains(out+errOut, secret) {
		t.Fatalf("set: exit %d out %q err %q", code, out, errOut)
	}
	if !f.store.CheckExportPassphrase([]byte(secret)) || f.store.CheckExportPassphrase([]byte(secret+"x")) {
		t.Error("stored passphrase does not check")
	}
	// Without a newline (printf-style) works too; CRLF is trimmed.
	if _, errOut, code := f.runIn(f.manager, "export-passphrase set", "second-passphrase\r\n"); code != 0 {
		t.Fatalf("set CRLF: %d %q", code, errOut)
	}
	if !f.store.CheckExportPassphrase([]byte("second-passphrase")) {
		t.Error("CRLF not trimmed")
	}
	if _, errOut, code := f.runIn(f.manager, "export-passphrase set", "third-passphrase"); code != 0 ||
		!f.store.CheckExportPassphrase([]byte("third-passphrase")) {
		t.Fatalf("set without newline: %d %q", code, errOut)
	}
	_, errOut, code = f.runIn(f.manager, "export-passphrase set", "short\n")
	if code != ExitError || !strings.Contains(errOut, "passphrase") || strings.Contains(errOut, "short") {
		t.Errorf("short: exit %d stderr %q", code, errOut)
	}
	_, errOut, code = f.runIn(f.manager, "export-passphrase set", "")
	if code != ExitError || !strings.Contains(errOut, "stdin") {
		t.Errorf("empty: exit %d stderr %q", code, errOut)
	}
	_, errOut, code = f.runIn(f.oper, "export-passphrase set", "operator-wants-in\n")
	if code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator: exit %d stderr %q", code, errOut)
	}
	if f.deniedEntries(core.ActionExportPassphrase, core.RoleOperator) != 1 {
		t.Error("operator refusal not ledgered")
	}
	if _, _, code := f.run(f.manager, "export-passphrase"); code != ExitUsage {
		t.Errorf("no subcommand: exit %d", code)
	}
	// The passphrase appears nowhere: not in the ledger, not in the log.
	raw := f.mustRun(f.manager, "ledger --json")
	for _, s := range []string{secret, "second-passphrase", "third-passphrase", "operator-wants-in"} {
		if strings.Contains(raw, s) || strings.Contains(f.logs.String(), s) {
			t.Errorf("passphrase %q leaked into the ledger or log", s)
		}
	}
	if !strings.Contains(raw, string(core.ActionExportPassphrase)) {
		t.Error("passphrase change not ledgered")
	}
}

func TestExportRequiresApproval(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ExportDir = t.TempDir() })
	f.addCameras("cam1", "cam2")
	f.runIn(f.manager, "export-passphrase set", "the-manager-secret\n")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	out, errOut, code := f.runIn(f.oper, "request export "+id, "the-manager-secret\n")
	if code != ExitError || out != "" {
		t.Errorf("export before approval: exit %d out %q stderr %q", code, out, errOut)
	}
	_, errOut, code = f.runIn(f.tech, "request export "+id, "the-manager-secret\n")
	if code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("technician export: exit %d stderr %q", code, errOut)
	}
	if _, _, code := f.run(f.oper, "request export"); code != ExitUsage {
		t.Errorf("export without id: exit %d", code)
	}
}

func TestHoldCommands(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1")
	until := time.Now().Add(10 * 24 * time.Hour).Format(time.RFC3339)
	cmd := dated("hold add --camera cam1 --from DAY0T09:00:00+09:00 --to DAY0T10:00:00+09:00 --until ") + until + " --reason '事故の調査'"
	_, errOut, code := f.run(f.oper, cmd)
	if code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator hold add: exit %d stderr %q", code, errOut)
	}
	id := strings.TrimSpace(f.mustRun(f.manager, cmd))
	if !strings.HasPrefix(id, "H") {
		t.Fatalf("hold add printed %q", id)
	}
	var hs []holdJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.oper, "hold list --json")), &hs); err != nil || len(hs) != 1 {
		t.Fatalf("hold list --json: %v %+v", err, hs)
	}
	if h := hs[0]; h.ID != id || h.Camera != "cam1" || !h.Active || h.From != dated("DAY0T00:00:00Z") || h.Reason != "事故の調査" || h.CreatedBy != "kanri" {
		t.Errorf("hold = %+v", h)
	}
	if out := f.mustRun(f.manager, "hold list"); !strings.Contains(out, "事故の調査") || !strings.Contains(out, "active") {
		t.Errorf("hold list:\n%s", out)
	}
	_, errOut, code = f.run(f.manager, strings.Replace(cmd, until, "2020-01-01T00:00:00Z", 1))
	if code != ExitError || !strings.Contains(errOut, "until (--until)") {
		t.Errorf("past until: exit %d stderr %q", code, errOut)
	}
	if _, _, code := f.run(f.manager, "hold release "+id); code != ExitUsage {
		t.Errorf("release without reason: exit %d", code)
	}
	out := f.mustRun(f.manager, "hold release "+id+" --reason 調査終了 --json")
	var h holdJSON
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.Active || h.ReleasedAt == "" || h.ReleaseReason != "調査終了" {
		t.Errorf("release --json: %v %q", err, out)
	}
	_, errOut, code = f.run(f.manager, "hold release "+id+" --reason again")
	if code != ExitError || !strings.Contains(errOut, "already released") {
		t.Errorf("release twice: exit %d stderr %q", code, errOut)
	}
}

// fakeExporter writes a small file and reports progress in steps.
type fakeExporter struct{}

func (fakeExporter) Export(ctx context.Context, job core.ExportJob, progress func(done, total int64)) (core.ExportRecord, error) {
	for i := int64(0); i <= 4; i++ {
		progress(i*25, 100)
	}
	path := filepath.Join(job.Dir, job.Request.ID+".mimamori")
	if err := os.WriteFile(path, []byte("package"), 0o600); err != nil {
		return core.ExportRecord{}, err
	}
	return core.ExportRecord{Path: path, ManifestHash: strings.Repeat("ab", 32),
		Files: []core.ExportFile{{Name: "cam1.mp4", Camera: "cam1", SHA256: strings.Repeat("cd", 32), Bytes: 100}}}, nil
}

func TestRequestExportOverSSH(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, func(o *Options) { o.ExportDir = dir })
	f.store.SetExporter(fakeExporter{})
	f.addCameras("cam1", "cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"))
	// Approval shows the manager the package secret, once, and how the
	// recipient uses it with the appliance key.
	out := f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし'")
	if !strings.Contains(out, "AGE-SECRET-KEY-1") || !strings.Contains(out, "--key "+f.srv.HostKeyFingerprint()) {
		t.Errorf("approve output:\n%s", out)
	}
	if hasEntry(f.entries(), func(e core.Entry) bool { return strings.Contains(e.Details["recipient"], "AGE-SECRET") }) {
		t.Error("the secret reached the ledger")
	}
	// The operator can neither see nor replace it.
	if _, errOut, code := f.run(f.oper, "request protect "+id); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator protect: exit %d %q", code, errOut)
	}
	if strings.Contains(f.mustRun(f.oper, "request show "+id+" --json"), "AGE-SECRET") {
		t.Error("request show reveals the secret")
	}
	// A printable sheet for the recipient (a new secret replaces the first).
	sheet := html.UnescapeString(f.mustRun(f.manager, "request protect "+id+" --sheet"))
	if !strings.Contains(sheet, "<!DOCTYPE html>") || !strings.Contains(sheet, "AGE-SECRET-KEY-1") ||
		!strings.Contains(sheet, f.srv.HostKeyFingerprint()) || strings.Contains(sheet, out[strings.Index(out, "AGE-SECRET"):][:40]) {
		t.Errorf("key sheet:\n%s", sheet)
	}

	// The manager's lock: the passphrase must come with the export.
	f.runIn(f.manager, "export-passphrase set", "the-manager-secret\n")
	out, errOut, code := f.runIn(f.oper, "request export "+id, "wrong-passphrase!\n")
	if code != ExitError || out != "" || !strings.Contains(errOut, "wrong export passphrase") || strings.Contains(errOut, "wrong-passphrase!") {
		t.Errorf("wrong passphrase: exit %d out %q stderr %q", code, out, errOut)
	}
	out, errOut, code = f.runIn(f.oper, "request export "+id, "the-manager-secret\n")
	want := filepath.Join(dir, id+".mimamori")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("export: exit %d out %q stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "0%") || !strings.Contains(errOut, "100%") || strings.Contains(errOut, "secret") {
		t.Errorf("progress on stderr: %q", errOut)
	}
	var r requestJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "request show "+id+" --json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.State != "exported" || r.Export == nil || r.Export.Path != want || r.Export.By != "sousa" || len(r.Export.Files) != 1 {
		t.Errorf("after export: %+v", r)
	}
	if out := f.mustRun(f.manager, "request show "+id); !strings.Contains(out, "cam1.mp4") || !strings.Contains(out, want) {
		t.Errorf("show lacks the export:\n%s", out)
	}
	// The written reference came at registration, so provide needs none.
	f.mustRun(f.manager, "request provide "+id+" --recipient 佐藤 --agency 四街道警察署 --id-doc 警察手帳")
	out = f.mustRun(f.manager, "request close "+id+" --json")
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.State != "closed" || r.Provision == nil ||
		r.Provision.IDDoc != "警察手帳" || r.Provision.WrittenRef != "四署刑第12号" || len(r.History) != 7 {
		t.Errorf("close --json: %v %+v", err, r)
	}
	// A second export of a closed request is a conflict.
	if _, _, code := f.runIn(f.oper, "request export "+id, "the-manager-secret\n"); code != ExitError {
		t.Errorf("export after close: exit %d", code)
	}
}

// Without an export passphrase, export reads nothing from stdin; with the
// recipient's key named, no secret is shown at all.
func TestRequestExportRecipientKeyNoLock(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, func(o *Options) { o.ExportDir = dir })
	f.store.SetExporter(fakeExporter{})
	f.addCameras("cam1", "cam2")
	_, key := newSigner(t)
	id := strings.TrimSpace(f.mustRun(f.manager, newReq+" --recipient-key '"+key+"'"))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"))
	out := f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし' --json")
	var r requestJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.PackageSecret != "" || r.Protection == nil ||
		r.Protection.Method != core.ProtectRecipientKey || !strings.HasPrefix(r.Protection.KeyID, "SHA256:") {
		t.Fatalf("approve with a registered recipient key: %v %s", err, out)
	}
	out, errOut, code := f.runIn(f.oper, "request export "+id, "")
	if code != 0 || strings.TrimSpace(out) != filepath.Join(dir, id+".mimamori") {
		t.Fatalf("export without a lock: exit %d %q %q", code, out, errOut)
	}
	if e := f.entries(); !hasEntry(e, func(e core.Entry) bool {
		return e.Action == core.ActionRequestExport && e.Details["protection"] == core.ProtectRecipientKey
	}) {
		t.Error("the export entry does not say how the package was protected")
	}
}

// The operator who exports cannot choose what the package opens with: their
// own login key is refused as a recipient, and a key they name at
// registration is left unused (the manager is told) until a manager
// gives it.
func TestOperatorNamedRecipientKey(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, func(o *Options) { o.ExportDir = dir })
	f.store.SetExporter(fakeExporter{})
	f.addCameras("cam1", "cam2")
	_, errOut, code := f.run(f.oper, newReq+" --recipient-key '"+f.oper.line+"'")
	if code != ExitError || !strings.Contains(errOut, "enrolled on this appliance") {
		t.Fatalf("operator's own key as recipient: exit %d %q", code, errOut)
	}
	_, key := newSigner(t)
	id := strings.TrimSpace(f.mustRun(f.oper, newReq+" --recipient-key '"+key+"'"))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00"))
	out, errOut, code := f.run(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし' --json")
	var r requestJSON
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.PackageSecret == "" || r.Protection == nil ||
		r.Protection.Method != core.ProtectApprovalSecret {
		t.Fatalf("approve of an operator-named key: exit %d %v %s", code, err, out)
	}
	if !strings.Contains(errOut, "was not used") && !strings.Contains(errOut, "使いません") {
		t.Errorf("the manager is not told the registered key was left unused: %q", errOut)
	}
	out = f.mustRun(f.manager, "request protect "+id+" --recipient-key '"+key+"' --json")
	r = requestJSON{}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.PackageSecret != "" || r.Protection.Method != core.ProtectRecipientKey {
		t.Fatalf("the manager's own choice of the key: %v %s", err, out)
	}
}

// A manager releases every hold of a request in one act.
func TestHoldReleaseByRequest(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1", "cam2")
	from := time.Now().Add(-2 * time.Hour).Format(time.RFC3339)
	to := time.Now().Add(-time.Hour).Format(time.RFC3339)
	id := strings.TrimSpace(f.mustRun(f.oper, strings.NewReplacer(dated("DAY0T09:00:00+09:00"), from, dated("DAY0T09:30:00+09:00"), to).Replace(newReq)))
	if _, errOut, code := f.run(f.oper, "hold release --request "+id+" --reason done"); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("operator released a request's holds: %d %q", code, errOut)
	}
	out := f.mustRun(f.manager, "hold release --request "+id+" --reason 'request withdrawn' --json")
	var got struct {
		Request  string
		Released []string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Request != id || len(got.Released) != 2 {
		t.Fatalf("release --request: %v %q", err, out)
	}
	var hs []holdJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "hold list --json")), &hs); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Active {
			t.Errorf("hold %s still active", h.ID)
		}
	}
	if _, errOut, code := f.run(f.manager, "hold release --request "+id+" --reason again"); code != ExitError || !strings.Contains(errOut, "no hold") {
		t.Errorf("second release: %d %q", code, errOut)
	}
}
