package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// requestJSON is the subset of `request show --json` the tests read.
// rangeJSON is a found or approved range of `request show --json`.
type rangeJSON struct {
	Camera string `json:"camera"`
	From   string `json:"from"`
	To     string `json:"to"`
}

type requestJSON struct {
	ID               string   `json:"id"`
	State            string   `json:"state"`
	Agency           string   `json:"agency"`
	Cameras          []string `json:"cameras"`
	From             string   `json:"from"`
	To               string   `json:"to"`
	AssignedOperator string   `json:"assigned_operator"`
	HoldIDs          []string `json:"hold_ids"`
	Result           *struct {
		Outcome string      `json:"outcome"`
		By      string      `json:"by"`
		Found   []rangeJSON `json:"found"`
	} `json:"result"`
	Decision *struct {
		Approved  bool        `json:"approved"`
		By        string      `json:"by"`
		Judgement string      `json:"judgement"`
		Ranges    []rangeJSON `json:"ranges"`
	} `json:"decision"`
	Export *struct {
		Path           string `json:"path"`
		ManifestSHA256 string `json:"manifest_sha256"`
		By             string `json:"by"`
		Files          []struct {
			Name   string `json:"name"`
			Camera string `json:"camera"`
			SHA256 string `json:"sha256"`
			Bytes  int64  `json:"bytes"`
		} `json:"files"`
	} `json:"export"`
	Provision *struct {
		Recipient string `json:"recipient"`
		IDDoc     string `json:"id_doc"`
		By        string `json:"by"`
	} `json:"provision"`
	History []struct {
		State string `json:"state"`
		By    string `json:"by"`
		At    string `json:"at"`
	} `json:"history"`
}

type recordingsJSON struct {
	Recorded float64 `json:"recorded_seconds"`
	Spans    []struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"spans"`
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// waitRecorded polls `recordings` over SSH until every camera has at
// least want seconds in one span, and returns the range all of them cover.
func (r *rig) waitRecorded(want time.Duration) (from, to time.Time) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		from, to = time.Time{}, time.Time{}
		ok := true
		for _, cam := range []string{"cam1", "cam2"} {
			var rec recordingsJSON
			r.mustJSON(r.operator, fmt.Sprintf("recordings %s --from %s --to %s --json", cam,
				rfc(r.started.Add(-time.Minute)), rfc(time.Now().Add(time.Minute))), &rec)
			if len(rec.Spans) == 0 {
				ok = false
				break
			}
			sp := rec.Spans[len(rec.Spans)-1]
			s, err1 := time.Parse(time.RFC3339Nano, sp.Start)
			e, err2 := time.Parse(time.RFC3339Nano, sp.End)
			if err1 != nil || err2 != nil {
				r.t.Fatalf("recordings %s: bad span times %q %q", cam, sp.Start, sp.End)
			}
			if from.IsZero() || s.After(from) {
				from = s
			}
			if to.IsZero() || e.Before(to) {
				to = e
			}
		}
		if ok && to.Sub(from) >= want {
			return from, to
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("cameras did not record %v within a minute (covered %v..%v)", want, from, to)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

const exportPass = "四街道-export-passphrase-2026"

// judgement is the manager's statement every approval needs (000 §8).
const judgement = "--judgement '捜査に必要な範囲に限られ、本人又は第三者の権利利益を不当に侵害するおそれはない'"

// foundAll is a search result naming the whole range on both cameras.
func foundAll(from, to time.Time) string {
	return "--range cam1=" + rfc(from) + "/" + rfc(to) + ",cam2=" + rfc(from) + "/" + rfc(to)
}

func registerCmd(from, to time.Time) string {
	return "request new --agency '千葉県警察 四街道警察署' --address '千葉県四街道市鹿渡無番地' " +
		"--representative '署長 山田 一郎' --contact '刑事課 佐藤' --phone 043-422-0110 " +
		"--purpose investigation --ground law --cameras cam1,cam2 " +
		"--from " + rfc(from) + " --to " + rfc(to) + " --notes '窃盗事件の捜査' --written-ref 四署刑第1234号"
}

// TestPoliceRequestEndToEnd runs the whole paperwork of 000 §8-9 / 001 §6
// over SSH against footage really recorded from RTSP cameras: register →
// instruct → result → approve → passphrase → export → verify → provide →
// close, then checks the ledger names every step and its actor, and that
// the exported MP4s hold exactly the recorded access units.
func TestPoliceRequestEndToEnd(t *testing.T) {
	r := startRig(t)
	covFrom, covTo := r.waitRecorded(6 * time.Second)
	// An approved range inside the recorded footage, clear of both ends.
	from := covFrom.Add(1500 * time.Millisecond).Truncate(time.Millisecond)
	to := from.Add(3 * time.Second)
	if !to.Before(covTo) {
		t.Fatalf("covered %v..%v is too short", covFrom, covTo)
	}

	id := strings.TrimSpace(r.must(r.operator, registerCmd(from, to)))
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("request new printed %q", id)
	}
	r.must(r.manager, "request instruct "+id+" --operator '担当 太郎'")
	r.must(r.operator, "request result "+id+" --found yes "+foundAll(from, to)+" --note '09:12 に人物を確認'")
	var approved struct {
		State         string `json:"state"`
		PackageSecret string `json:"package_secret"`
		Protection    struct {
			Method string `json:"method"`
		} `json:"protection"`
	}
	r.mustJSON(r.manager, "request approve "+id+" "+judgement+" --json", &approved)
	if approved.State != "approved" || !strings.HasPrefix(approved.PackageSecret, "AGE-SECRET-KEY-1") ||
		approved.Protection.Method != "approval-secret" {
		t.Fatalf("approve answer %+v", approved)
	}
	r.must(r.manager, "export-passphrase set", exportPass+"\n")

	var req requestJSON
	r.mustJSON(r.operator, "request show "+id+" --json", &req)
	if req.State != "approved" || req.Decision == nil || !req.Decision.Approved || req.Decision.By != r.manager.name ||
		req.Result == nil || req.Result.By != r.operator.name || len(req.HoldIDs) != 2 {
		t.Fatalf("after approve: %+v", req)
	}
	if req.From != rfc(from) || req.To != rfc(to) {
		t.Errorf("approved range %s..%s, want %s..%s", req.From, req.To, rfc(from), rfc(to))
	}
	// The provisional holds are visible to the operator.
	if out := r.must(r.operator, "hold list"); !strings.Contains(out, id) || !strings.Contains(out, "provisional") {
		t.Errorf("hold list lacks the provisional holds:\n%s", out)
	}

	steps := []struct{ action, by string }{
		{"request.register", r.operator.name}, {"request.instruct", r.manager.name},
		{"request.result", r.operator.name}, {"request.approve", r.manager.name},
	}
	if r.hasExporter() {
		pkg := r.exportAndCheck(id, approved.PackageSecret, from, to)
		r.must(r.manager, "request provide "+id+" --recipient '佐藤 健' --agency '四街道警察署' --id-doc 警察手帳")
		r.must(r.manager, "request close "+id)
		r.mustJSON(r.manager, "request show "+id+" --json", &req)
		if req.State != "closed" || req.Export == nil || req.Export.Path != pkg || req.Export.By != r.operator.name ||
			req.Provision == nil || req.Provision.IDDoc != "警察手帳" || req.Provision.By != r.manager.name {
			t.Errorf("after close: %+v", req)
		}
		steps = append(steps, []struct{ action, by string }{
			{"request.export", r.operator.name}, {"request.provide", r.manager.name}, {"request.close", r.manager.name},
		}...)
	} else {
		t.Log("MISSING: the export engine is not built in; export, verify, provide and close were not run")
	}

	// Every step is a ledger entry naming its actor, in order.
	es := r.ledger()
	var lastSeq uint64
	for _, s := range steps {
		got := find(es, s.action, id)
		if len(got) != 1 {
			t.Errorf("ledger: %d %s entries for %s, want 1", len(got), s.action, id)
			continue
		}
		if got[0].Actor.Name != s.by {
			t.Errorf("ledger: %s by %q, want %q", s.action, got[0].Actor.Name, s.by)
		}
		if got[0].Seq <= lastSeq {
			t.Errorf("ledger: %s at seq %d, not after the previous step (%d)", s.action, got[0].Seq, lastSeq)
		}
		lastSeq = got[0].Seq
	}
	if len(find(es, "export-passphrase.set", "")) != 1 {
		t.Error("ledger: no export-passphrase.set entry")
	}
	if len(find(es, "hold.add", "")) < 2 {
		t.Error("ledger: the provisional holds are not ledgered")
	}
	// The history shows each step and its actor.
	r.mustJSON(r.manager, "request show "+id+" --json", &req)
	if len(req.History) != len(steps) {
		t.Errorf("history has %d steps, want %d: %+v", len(req.History), len(steps), req.History)
	}
	for i := range req.History {
		if i < len(steps) && req.History[i].By != steps[i].by {
			t.Errorf("history[%d] by %q, want %q", i, req.History[i].By, steps[i].by)
		}
	}
	// Neither the passphrase nor the package secret is in the ledger or the log.
	raw := r.must(r.manager, "ledger --json --limit 10000")
	if strings.Contains(raw, exportPass) || strings.Contains(r.logs.String(), exportPass) {
		t.Error("the export passphrase leaked into the ledger or the log")
	}
	if s := strings.TrimPrefix(approved.PackageSecret, "AGE-SECRET-KEY-1"); strings.Contains(raw, s) || strings.Contains(r.logs.String(), s) {
		t.Error("the package secret leaked into the ledger or the log")
	}
	if out := r.must(r.manager, "ledger verify"); !strings.Contains(out, "intact") {
		t.Errorf("ledger verify: %s", out)
	}
}

// TestRequestRefusals: the workflow's checks hold over SSH, and refusals
// are ledgered.
func TestRequestRefusals(t *testing.T) {
	r := startRig(t)
	from := r.started.Add(time.Second).Truncate(time.Millisecond)
	to := from.Add(3 * time.Second)
	id := strings.TrimSpace(r.must(r.operator, registerCmd(from, to)))
	r.must(r.manager, "export-passphrase set", exportPass+"\n")

	denied := func(action string, role string) int {
		n := 0
		for _, e := range r.ledger() {
			if e.Action == "denied" && e.Subject == action && e.Actor.Role == role {
				n++
			}
		}
		return n
	}

	// A technician never sees or touches requests; each kind of refusal is
	// ledgered at once (repeats within a minute are counted into one later
	// entry, so a flood cannot grow the ledger).
	seen := map[string]bool{}
	for _, c := range []struct{ cmd, action string }{
		{"request list", "requests.read"},
		{"request show " + id, "requests.read"},
		{registerCmd(from, to), "request.register"},
		{"request approve " + id, "request.approve"},
	} {
		before := denied(c.action, "technician")
		res := r.ssh(r.technician, c.cmd)
		if res.code != 1 || !strings.Contains(res.stderr, "forbidden") || res.stdout != "" {
			t.Errorf("technician %q: exit %d stdout %q stderr %q", c.cmd, res.code, res.stdout, res.stderr)
		}
		if strings.Contains(res.stderr, "四街道") {
			t.Errorf("technician %q saw request details: %q", c.cmd, res.stderr)
		}
		want := before + 1
		if seen[c.action] {
			want = before
		}
		seen[c.action] = true
		if after := denied(c.action, "technician"); after != want {
			t.Errorf("technician %q: refusals ledgered %d -> %d, want %d", c.cmd, before, after, want)
		}
	}

	r.must(r.manager, "request instruct "+id+" --operator '担当 太郎'")

	// Export before approval: refused, nothing written.
	res := r.ssh(r.operator, "request export "+id, exportPass+"\n")
	if res.code != 1 || res.stdout != "" {
		t.Errorf("export before approval: exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	if r.hasExporter() && !strings.Contains(res.stderr, "instructed") {
		t.Errorf("export before approval: stderr %q should name the state", res.stderr)
	}

	r.must(r.operator, "request result "+id+" --found yes "+foundAll(from, to))

	// An operator may not approve.
	before := denied("request.approve", "operator")
	res = r.ssh(r.operator, "request approve "+id)
	if res.code != 1 || !strings.Contains(res.stderr, "forbidden") {
		t.Errorf("operator approve: exit %d stderr %q", res.code, res.stderr)
	}
	if denied("request.approve", "operator") != before+1 {
		t.Error("operator approve: refusal not ledgered")
	}
	var req requestJSON
	r.mustJSON(r.manager, "request show "+id+" --json", &req)
	if req.State != "searched" || req.Decision != nil {
		t.Errorf("after the operator's approve attempt: state %s decision %+v", req.State, req.Decision)
	}

	r.must(r.manager, "request approve "+id+" "+judgement)
	// Usage errors exit 2.
	if res := r.ssh(r.operator, "request export"); res.code != 2 {
		t.Errorf("export without id: exit %d", res.code)
	}
	if !r.hasExporter() {
		t.Log("MISSING: the export engine is not built in; wrong-passphrase export not tested")
		return
	}
	// Wrong export passphrase: refused, the request stays approved.
	res = r.ssh(r.operator, "request export "+id, "not-the-passphrase\n")
	if res.code != 1 || res.stdout != "" || !strings.Contains(strings.ToLower(res.stderr), "passphrase") {
		t.Errorf("wrong passphrase: exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	r.mustJSON(r.manager, "request show "+id+" --json", &req)
	if req.State != "approved" || req.Export != nil {
		t.Errorf("after a wrong passphrase: state %s export %+v", req.State, req.Export)
	}
	if strings.Contains(r.logs.String(), "not-the-passphrase") {
		t.Error("the wrong passphrase was logged")
	}
}
