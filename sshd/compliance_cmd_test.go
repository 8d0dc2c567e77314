package sshd

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"mimamori/core"
)

// camera remove / sign / police over SSH: the manager's removal with a
// reason, signs recorded by the technician, the police consultation date
// (000 §4-2, §4-3; 001 §8-2), and the city's warnings in health.
func TestCameraRegisterCommandsOverSSH(t *testing.T) {
	f := newFixture(t, nil)
	f.addCameras("cam1", "cam2")

	var h healthJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.tech, "health --json")), &h); err != nil {
		t.Fatal(err)
	}
	has := func(ws []warningJSON, code, subject string) bool {
		for _, w := range ws {
			if w.Code == code && w.Subject == subject {
				return true
			}
		}
		return false
	}
	if !has(h.Warnings, core.WarnSignMissing, "cam1") || !has(h.Warnings, core.WarnPoliceMissing, "cam1") {
		t.Fatalf("health warnings %+v", h.Warnings)
	}
	if out := f.mustRun(f.tech, "health --lang ja"); !strings.Contains(out, "規定上の確認事項") || !strings.Contains(out, "[000 §4-3]") {
		t.Errorf("health (ja) lacks the warnings:\n%s", out)
	}

	f.mustRun(f.manager, dated("camera sign cam1 --posted --performer '保守 次郎' --date DAY0T10:00:00+09:00"))
	f.mustRun(f.manager, dated("camera police cam1 --date DAY0T00:00:00+09:00"))
	var cam cameraDetailJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "camera show cam1 --json")), &cam); err != nil {
		t.Fatal(err)
	}
	if !cam.SignPosted || cam.SignChangedAt != dated("DAY0T01:00:00Z") || cam.PoliceConsulted != dated("DAY-1T15:00:00Z") {
		t.Fatalf("cam1 after sign and police: %+v", cam)
	}
	if err := json.Unmarshal([]byte(f.mustRun(f.tech, "compliance --json")), &h.Warnings); err != nil {
		t.Fatal(err)
	}
	if has(h.Warnings, core.WarnSignMissing, "cam1") || has(h.Warnings, core.WarnPoliceMissing, "cam1") {
		t.Fatalf("warnings after the records: %+v", h.Warnings)
	}

	// Only the manager removes; a reason is required.
	if _, errOut, code := f.run(f.oper, "camera remove cam2 --reason x"); code != ExitError || !strings.Contains(errOut, "forbidden") {
		t.Errorf("operator remove: %d %q", code, errOut)
	}
	if _, errOut, code := f.run(f.manager, "camera remove cam2"); code != ExitError || !strings.Contains(errOut, "--reason") {
		t.Errorf("remove without reason: %d %q", code, errOut)
	}
	f.mustRun(f.manager, "camera remove cam2 --reason '地区の決定により運用終了'")
	out := f.mustRun(f.manager, "cameras --json")
	var cams []cameraJSON
	if err := json.Unmarshal([]byte(out), &cams); err != nil {
		t.Fatal(err)
	}
	for _, c := range cams {
		if c.ID == "cam2" && c.Status != core.CameraRemoved {
			t.Errorf("register: cam2 is %s", c.Status)
		}
	}
	if out := f.mustRun(f.manager, "camera show cam2 --lang ja"); !strings.Contains(out, "撤去済") || !strings.Contains(out, "地区の決定により運用終了") {
		t.Errorf("camera show (ja):\n%s", out)
	}
	es, _ := f.store.Ledger(f.manager.actor, 0, 1000)
	removed := 0
	for _, e := range es {
		if e.Action == core.ActionCameraRemove && e.Subject == "cam2" && e.Details["reason"] == "地区の決定により運用終了" {
			removed++
		}
	}
	if removed != 1 {
		t.Errorf("%d camera.remove entries", removed)
	}
}

// staff add/set/pledge/handover: 職名, 所属 and the confidentiality pledge
// (000 §11, 001 §3(5)); one manager under the city standard (000 §5-2).
func TestStaffCommandsOverSSH(t *testing.T) {
	f := newFixture(t, nil)
	key := newKeyLine(t)
	// Without --pledge the pledge is shown and nothing is enrolled.
	out, errOut, code := f.run(f.manager, "staff add --name '主事 鈴木' --role operator --title 主事 --section 危機管理室 --key '"+key+"'")
	if code != ExitError || !strings.Contains(out, "漏らしません") || !strings.Contains(errOut, "--pledge") {
		t.Fatalf("staff add without --pledge: %d %q %q", code, out, errOut)
	}
	fp := strings.TrimSpace(f.mustRun(f.manager, "staff add --name '主事 鈴木' --role operator --title 主事 --section 危機管理室 --pledge --key '"+key+"'"))
	var list []staffJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "staff list --json")), &list); err != nil {
		t.Fatal(err)
	}
	var got *staffJSON
	for i := range list {
		if list[i].Fingerprint == fp {
			got = &list[i]
		}
	}
	if got == nil || got.JobTitle != "主事" || got.Section != "危機管理室" || got.PledgeVersion != "000-11/1" ||
		got.Term != "取扱担当者" || got.Missing != "" {
		t.Fatalf("staff list: %+v", got)
	}
	// The bootstrap keys lack 職名 and pledge until recorded.
	f.mustRun(f.manager, "staff set "+f.oper.actor.Fingerprint+" --title 主任 --section 危機管理室")
	f.mustRun(f.manager, "staff pledge "+f.oper.actor.Fingerprint)
	// A second manager is refused; a handover moves the role.
	key2 := newKeyLine(t)
	if _, errOut, code := f.run(f.manager, "staff add --name 次長 --role manager --title 次長 --section 危機管理室 --pledge --key '"+key2+"'"); code != ExitError || !strings.Contains(errOut, "handover") {
		t.Fatalf("second manager: %d %q", code, errOut)
	}
	if _, _, code := f.run(f.oper, "staff handover "+fp+" --reason 異動"); code != ExitError {
		t.Fatal("an operator handed over the manager role")
	}
	// The handing-over manager's key is revoked, and a revoked key's
	// connections are dropped: the session may end before its exit status.
	if c, err := f.dial(f.manager); err == nil {
		if s, err := c.NewSession(); err == nil {
			_ = s.Run("staff handover " + fp + " --reason '人事異動（4月1日付）'")
		}
		c.Close()
	}
	k, err := f.store.LookupKey(fp)
	if err != nil || k.Role != core.RoleManager {
		t.Fatalf("after handover: %+v %v", k, err)
	}
	if _, err := f.store.LookupKey(f.manager.actor.Fingerprint); err == nil {
		t.Fatal("the former manager's key still logs in")
	}
}

// custody set/show, layout add/list/get and inspections over SSH.
func TestCustodyLayoutInspectionsOverSSH(t *testing.T) {
	f := newPolicyFixture(t, core.CompanyTemplate(), nil)
	f.addCameras("cam1")
	f.mustRun(f.manager, "custody set --location '本社2階 管理室' --cabinet '施錠保管庫 B' --key-holder kanri --anti-removal 'ワイヤーで固定'")
	var cs []custodyJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.tech, "custody show --json")), &cs); err != nil || len(cs) != 1 || cs[0].KeyHolder != "kanri" {
		t.Fatalf("custody show: %+v %v", cs, err)
	}
	if _, _, code := f.run(f.oper, "custody show"); code != ExitError {
		t.Error("an operator read custody")
	}

	plan := []byte("%PDF-1.4 配置図 cam1 北向き\n")
	sum := sha256.Sum256(plan)
	out, errOut, code := f.runIn(f.manager, "layout add --site 'A地区' --file plan.pdf --cameras cam1", string(plan))
	if code != ExitOK || !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("layout add: %d %q %q", code, out, errOut)
	}
	id := strings.Fields(out)[0]
	if got := f.mustRun(f.tech, "layout get "+id); got != string(plan) {
		t.Fatalf("layout get = %q", got)
	}
	var ls []layoutJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.manager, "layout list --json")), &ls); err != nil || len(ls) != 1 || ls[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("layout list %+v %v", ls, err)
	}

	var ins []inspectionJSON
	if err := json.Unmarshal([]byte(f.mustRun(f.tech, "inspections --json")), &ins); err != nil || len(ins) != 1 || ins[0].State != "ok" {
		t.Fatalf("inspections %+v %v", ins, err)
	}
	if out := f.mustRun(f.tech, "inspections --lang ja"); !strings.Contains(out, "定期点検の周期: 180 日") {
		t.Errorf("inspections (ja):\n%s", out)
	}
}

func newKeyLine(t *testing.T) string {
	_, line := newSigner(t)
	return line
}
