package sshd

import (
	"encoding/json"
	"strings"
	"testing"

	"mimamori/core"
)

func TestInquiryOverSSH(t *testing.T) {
	f := newFixture(t, nil)
	id := strings.TrimSpace(f.mustRun(f.oper, `inquiry add --from "近隣住民 鈴木" --contact 090-0000-0000 `+
		dated(`--channel phone --summary "カメラが自宅の窓を映していないか" --received DAY0T10:00:00+09:00`)))
	if !strings.HasPrefix(id, "Q") {
		t.Fatalf("inquiry add printed %q", id)
	}
	if _, errOut, code := f.run(f.oper, "inquiry answer "+id+" --answer x"); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator answer: exit %d stderr %q", code, errOut)
	}
	if out := f.mustRun(f.manager, "inquiry answer "+id+` --answer "撮影範囲を確認し、窓は映っていないと説明"`); !strings.Contains(out, "answered") {
		t.Errorf("answer = %q", out)
	}
	var q inquiryJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "inquiry close "+id+" --note 了承 --json")), &q); err != nil {
		t.Fatal(err)
	}
	if q.State != "closed" || q.ClosedBy != "kanri" || q.CloseNote != "了承" || q.AnsweredBy != "kanri" ||
		q.ReceivedAt != dated("DAY0T01:00:00Z") || q.From != "近隣住民 鈴木" || q.Channel != "phone" || q.CreatedBy != "sousa" {
		t.Errorf("close --json = %+v", q)
	}
	if _, errOut, code := f.run(f.manager, "inquiry close "+id); code != ExitError || !strings.Contains(errOut, "already closed") {
		t.Errorf("second close: exit %d stderr %q", code, errOut)
	}

	var qs []inquiryJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.oper, "inquiry list --json")), &qs); err != nil || len(qs) != 1 || qs[0].ID != id {
		t.Errorf("list --json = %+v (%v)", qs, err)
	}
	out := f.mustRun(f.oper, "inquiry show "+id)
	for _, want := range []string{"近隣住民 鈴木", "090-0000-0000", "窓は映っていない", dated("DAY0T10:00:00+09:00"), "closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if out := f.mustRun(f.oper, "--lang ja inquiry list"); !strings.Contains(out, "完了") {
		t.Errorf("ja list = %q", out)
	}

	// Errors: missing flags are usage errors; bad values name the flag.
	if _, _, code := f.run(f.oper, "inquiry add --from x"); code != ExitUsage {
		t.Errorf("add without --summary: exit %d", code)
	}
	if _, errOut, code := f.run(f.oper, `inquiry add --from x --summary "  "`); code != ExitError || !strings.Contains(errOut, "summary (--summary)") {
		t.Errorf("blank summary: exit %d stderr %q", code, errOut)
	}
	if _, errOut, code := f.run(f.manager, "inquiry answer Q-nope --answer x"); code != ExitError || !strings.Contains(errOut, "not found") {
		t.Errorf("unknown inquiry: exit %d stderr %q", code, errOut)
	}
	if _, errOut, code := f.run(f.tech, "inquiry list"); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("technician list: exit %d stderr %q", code, errOut)
	}
	es := f.entries()
	for _, a := range []core.Action{core.ActionInquiryRegister, core.ActionInquiryAnswer, core.ActionInquiryClose} {
		if !hasEntry(es, func(e core.Entry) bool { return e.Action == a && (e.Subject == id || a == core.ActionInquiryRegister) }) {
			t.Errorf("no %s entry in the ledger", a)
		}
	}
}
