package sshd

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"mimamori/core"
)

func TestFormCommandsOverSSH(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.store.AddCamera(f.manager.actor, core.Camera{ID: "cam1", Number: "7", Name: "駅前",
		Location: "四街道駅北口", URL: "rtsp://127.0.0.1/cam1"}); err != nil {
		t.Fatal(err)
	}
	f.addCameras("cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam1=DAY0T09:10:00+09:00/DAY0T09:14:00+09:00 --note '09:12 人物を確認'"))
	f.mustRun(f.manager, "request approve "+id+" --judgement '捜査に必要な範囲に限られ不当侵害のおそれなし'")

	for _, cmd := range []string{"form 2 " + id, "request form2 " + id} {
		out := f.mustRun(f.oper, cmd)
		if !strings.HasPrefix(out, "<!DOCTYPE html>") {
			t.Fatalf("%s: not an HTML document: %.80q", cmd, out)
		}
		for _, want := range []string{"四街道市防犯カメラ画像データ利用申請書", "四街道市長", "千葉県警察 四街道警察署",
			"千葉県四街道市", "署長 山田", "刑事課 佐藤", "043-000-0000", "■</span> 事後捜査のため", "四街道駅北口",
			"7（cam1）", "cam2", dated("DAY0JA 9時00分頃から"), dated("DAY0JA 9時30分頃まで"), "窃盗事件", "四署刑第12号", id} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", cmd, want)
			}
		}
	}
	for _, cmd := range []string{"form 3 " + id, "request form3 " + id} {
		out := f.mustRun(f.manager, cmd)
		for _, want := range []string{"四街道市防犯カメラ画像データ検索簿", "作成", "kanri", "sousa",
			"■</span> 対象画像データ【有】", "09:12 人物を確認", "承認　kanri", "千葉県警察 四街道警察署",
			dated(`<span class="nw">カメラ7（cam1）</span>　<span class="range">DAY0JA 9時10分00秒からDAY0JA 9時14分00秒まで</span>`), "不当侵害のおそれなし"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", cmd, want)
			}
		}
	}

	var fj formJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.oper, "form 3 "+id+" --json")), &fj); err != nil {
		t.Fatal(err)
	}
	if fj.Request != id || fj.Form != 3 || fj.Title != "四街道市防犯カメラ画像データ検索簿" || !strings.Contains(fj.HTML, "検索簿") {
		t.Errorf("form --json = %+v", fj)
	}

	// Technicians never see requests; the refusal is ledgered by core.
	out, errOut, code := f.run(f.tech, "form 2 "+id)
	if code != ExitError || out != "" || !strings.Contains(errOut, "forbidden") {
		t.Errorf("technician form 2: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if _, errOut, code := f.run(f.oper, "form 2 R-2099-9999"); code != ExitError || !strings.Contains(errOut, "not found") {
		t.Errorf("unknown request: exit %d stderr %q", code, errOut)
	}
	for _, cmd := range []string{"form 4 " + id, "form 2", "request form2", "form 2 " + id + " extra"} {
		if _, _, code := f.run(f.oper, cmd); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", cmd, code, ExitUsage)
		}
	}
}

func TestFormEscapesHostileFields(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1")
	hostile := `request new --agency '<script>alert(1)</script>' --address '<img src=x onerror=alert(2)>' ` +
		`--representative R --contact C --phone P --purpose other --reason '</td></tr></table><h1>x' --ground law ` +
		dated(`--cameras cam1 --from DAY0T09:00:00+09:00 --to DAY0T09:30:00+09:00`)
	id := strings.TrimSpace(f.mustRun(f.oper, hostile))
	for _, n := range []string{"2", "3"} {
		out := f.mustRun(f.oper, "form "+n+" "+id)
		low := strings.ToLower(out)
		if strings.Contains(low, "<script") || strings.Contains(low, "<img") || strings.Contains(low, "<h1>x") {
			t.Errorf("form %s lets markup through", n)
		}
		if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("form %s does not show the agency escaped", n)
		}
	}
}

func TestLedgerCSVOverSSH(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1")
	f.mustRun(f.oper, "whoami")
	for _, cmd := range []string{"ledger --csv", "ledger export --csv", "ledger export"} {
		out := f.mustRun(f.manager, cmd)
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if strings.Join(rows[0], ",") != "seq,time,actor,fingerprint,role,action,subject,details,prev_hash,hash,action_label" {
			t.Fatalf("%s header = %v", cmd, rows[0])
		}
		last := rows[len(rows)-1]
		if last[5] != string(core.ActionLedgerExport) || last[2] != "kanri" || last[10] != "台帳の書出し" {
			t.Errorf("%s: last row %v, want the export's own entry", cmd, last)
		}
		// Every entry up to the export is there, in order, chained.
		for i, r := range rows[1:] {
			if r[0] != strconv.Itoa(i+1) {
				t.Fatalf("%s: row %d has seq %s", cmd, i+1, r[0])
			}
			if i > 0 && r[8] != rows[i][9] {
				t.Fatalf("%s: row %d prev_hash does not chain", cmd, i+1)
			}
		}
	}
	out, errOut, code := f.run(f.oper, "ledger --csv")
	if code != ExitError || out != "" || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator ledger --csv: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if f.deniedEntries(core.ActionLedgerExport, core.RoleOperator) != 1 {
		t.Error("operator's CSV attempt not ledgered")
	}
	if _, _, code := f.run(f.manager, "ledger --csv --since 3"); code != ExitUsage {
		t.Errorf("ledger --csv --since: exit %d, want usage", code)
	}
	// Plain ledger still works.
	if out := f.mustRun(f.manager, "ledger --json"); !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("ledger --json = %.60q", out)
	}
}

// A form's 作成日 is kept when it is first issued: the first print is one
// form.issue entry, reprints add none and show the same date.
func TestFormIssueDateKept(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1", "cam2")
	id := strings.TrimSpace(f.mustRun(f.oper, newReq))
	first := f.mustRun(f.oper, "form 3 "+id)
	again := f.mustRun(f.manager, "form 3 "+id)
	f.mustRun(f.oper, "form 2 "+id)
	es, err := f.store.Ledger(f.manager.actor, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	issued := map[string]int{}
	for _, e := range es {
		if e.Action == core.ActionFormIssue && e.Subject == id {
			issued[e.Details["form"]]++
		}
	}
	if issued["3"] != 1 || issued["2"] != 1 {
		t.Errorf("form.issue entries = %v, want one per form", issued)
	}
	r, err := f.store.Request(f.manager.actor, id)
	if err != nil || r.FormsIssued["3"].IsZero() {
		t.Fatalf("issue date not stored: %v %v", r.FormsIssued, err)
	}
	date := r.FormsIssued["3"].In(defaultLocation())
	want := fmt.Sprintf("%d年%d月%d日</div>", date.Year(), int(date.Month()), date.Day())
	if !strings.Contains(first, strings.TrimSuffix(want, "</div>")+"作成") || !strings.Contains(again, strings.TrimSuffix(want, "</div>")+"作成") {
		t.Errorf("作成日 is not the stored issue date %s", want)
	}
}

// Under the company profile the forms over SSH cite 001, name the
// configured company and say 操作担当者; form 1 prints the company's sign.
func TestCompanyFormsOverSSH(t *testing.T) {
	p := core.CompanyTemplate()
	p.Organization.Name = "見守り商事株式会社"
	f := newPolicyFixture(t, p, nil)
	f.addCameras("cam1", "cam2")
	req := strings.Replace(newReq, "--ground law", "--ground investigation", 1)
	id := strings.TrimSpace(f.mustRun(f.oper, req))
	f.mustRun(f.manager, "request instruct "+id+" --operator sousa")
	f.mustRun(f.oper, "request result "+id+dated(" --found yes --range cam2=DAY0T09:20:00+09:00/DAY0T09:22:00+09:00"))
	f2 := f.mustRun(f.oper, "form 2 "+id)
	f3 := f.mustRun(f.oper, "form 3 "+id)
	for _, want := range []string{"提供要請書（管理運用規定 ６ ウ）", "見守り商事株式会社　管理責任者　様", "６(2)"} {
		if !strings.Contains(f2, want) {
			t.Errorf("company form 2 lacks %q", want)
		}
	}
	for _, want := range []string{"検索・提供記録簿（管理運用規定 ５(2)・６ イ）", "操作担当者", "9時20分00秒から"} {
		if !strings.Contains(f3, want) {
			t.Errorf("company form 3 lacks %q", want)
		}
	}
	for _, doc := range []string{f2, f3} {
		if strings.Contains(doc, "様式第") || strings.Contains(doc, "取扱担当者") {
			t.Error("a company form cites the city standard")
		}
	}
	sign := f.mustRun(f.tech, "form 1 cam1")
	if !strings.Contains(sign, "見守り商事株式会社") || !strings.Contains(sign, "防犯カメラ作動中") || strings.Count(sign, `class="sign"`) != 1 {
		t.Errorf("form 1 cam1:\n%.400s", sign)
	}
	if _, errOut, code := f.run(f.tech, "form 1 nosuch"); code != ExitError || !strings.Contains(errOut, "not found") {
		t.Errorf("form 1 of an unknown camera: exit %d %q", code, errOut)
	}
}
