package tui

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"mimamori/core"
)

// The manager records where the recorder is kept (000 §7-3, 001 §5-1)
// from the Maintenance tab: each change is a new record with the old one
// kept, ledgered with its predecessor; the warning goes.
func TestUpkeepTabRecordsCustody(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	if !contains(rc.warningCodes(""), core.WarnCustodyMissing) {
		t.Fatal("no custody warning to begin with")
	}
	u := rc.console(rc.manager, "ja", 140, 32, nil)
	keys(u, "7")
	shows(t, u, "[確認事項(5)]", "000 §7-3  -")
	cursorTo(t, u, "000 §7-3")
	shows(t, u, "! [000 §7-3] 録画装置の保管場所", "→ 保管で c を押して")
	keys(u, "l", "l")
	shows(t, u, "保管状況（設置場所・保管庫・鍵の管理者）の記録がありません。", "c: 変更を記録")

	keys(u, "c")
	shows(t, u, "記録装置の保管（000 §7-3, 001 §5-1）")
	keys(u, "本庁舎3階 サーバー室", "tab", "ラック保管庫B", "tab", "山田 太郎", "tab", "床にボルト固定", "ctrl+s")
	shows(t, u, "保管状況を記録しました: 本庁舎3階 サーバー室", "ラック保管庫B", "床にボルト固定")

	// A change starts from the current record: only the cabinet is typed.
	keys(u, "c", "tab")
	typeText(u, "耐火金庫C")
	keys(u, "ctrl+s")
	shows(t, u, "耐火金庫C")

	recs, err := rc.st.Custody(rc.manager)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Cabinet != "耐火金庫C" || recs[0].Location != "本庁舎3階 サーバー室" ||
		recs[0].KeyHolder != "山田 太郎" || recs[1].Cabinet != "ラック保管庫B" {
		t.Fatalf("custody records %+v", recs)
	}
	es := rc.entries(core.ActionCustody)
	if len(es) != 2 || es[0].Actor.Name != "山田 太郎" || es[0].Details["anti_removal"] != "床にボルト固定" ||
		es[1].Details["previous"] != recs[1].ID || es[1].Details["cabinet"] != "耐火金庫C" {
		t.Fatalf("custody entries %+v", es)
	}
	if w := rc.warningCodes(""); contains(w, core.WarnCustodyMissing) || contains(w, core.WarnCustodyKeyHolder) {
		t.Errorf("custody warnings left: %v", w)
	}
}

// A technician sees inspections falling due and overdue on both of their
// tabs and records one (001 §8-1); custody is not offered to them.
func TestUpkeepTabInspections(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	tech := rc.enrol("田中 健", core.RoleTechnician, true)
	rc.advance(358 * 24 * time.Hour) // a week before the 365-day interval ends
	u := rc.console(tech, "ja", 120, 30, nil)
	if got := strings.Join(u.Tabs(), ","); got != "storage,upkeep" {
		t.Fatalf("technician tabs %s", got)
	}
	shows(t, u, "期限間近", "規定上の確認事項", "定期点検の期限が近づいています")

	rc.advance(10 * 24 * time.Hour) // now overdue
	u = rc.console(tech, "en", 120, 30, nil)
	shows(t, u, "OVERDUE", "inspection overdue since")
	keys(u, "2", "l")
	shows(t, u, "[Inspections(!2)]", "Inspection every 365 days", "i: record an inspection")
	cursorTo(t, u, "cam1")

	keys(u, "c")
	if u.page().Capturing() {
		t.Fatalf("a technician opened the custody form:\n%s", u.View())
	}
	keys(u, "i")
	shows(t, u, "Record an inspection (001 §8-1)", "< inspection >", "田中 健")
	keys(u, "right") // a technician records inspections only: nothing else to choose
	shows(t, u, "< inspection >")
	keys(u, "tab")
	shows(t, u, "< cam1 駅前 >")
	keys(u, "tab", "tab", "tab", "lens cleaned, field of view checked", "ctrl+s")
	shows(t, u, "Recorded an inspection of cam1.")

	sched, err := rc.st.InspectionSchedule(tech)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, x := range sched {
		states[x.Camera] = x.State
	}
	if states["cam1"] != core.InspectionOK || states["cam2"] != core.InspectionOverdue {
		t.Fatalf("schedule after the inspection: %v", states)
	}
	var insp []core.Entry
	for _, e := range rc.entries(core.ActionMaintenance) {
		if e.Details["kind"] == core.MaintInspection {
			insp = append(insp, e)
		}
	}
	if len(insp) != 1 || insp[0].Actor.Name != "田中 健" || insp[0].Details["camera"] != "cam1" ||
		insp[0].Details["performer"] != "田中 健" || insp[0].Details["notes"] != "lens cleaned, field of view checked" {
		t.Fatalf("inspection entries %+v", insp)
	}
	shows(t, u, "[Inspections(!1)]")

	// The whole appliance at once.
	keys(u, "i", "tab", "left")
	shows(t, u, "< all cameras (the appliance) >")
	keys(u, "ctrl+s")
	shows(t, u, "Recorded an inspection of all cameras (the appliance).")
	if w := rc.warningCodes(""); contains(w, core.WarnInspectionOverdue) {
		t.Errorf("still overdue after an appliance-wide inspection: %v", w)
	}
	keys(u, "l", "l", "l")
	shows(t, u, "[Maintenance log]", "inspection", "lens cleaned")
}

// Layout plans (001 §2-1) are listed with their hash; filing and fetching
// a file stay commands, shown as the exact command line to run.
func TestUpkeepTabListsLayoutPlans(t *testing.T) {
	rc := newRealCore(t, core.CompanyTemplate())
	body := []byte("%PDF-1.4 layout plan of the main site")
	p, err := rc.st.FileLayoutPlan(rc.manager, core.LayoutInput{Site: "本社ビル", FileName: "本社 配置図.pdf", Content: body,
		Cameras: []string{"cam1"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	u := rc.console(rc.manager, "en", 160, 30, func(c *Common) {
		c.Command = func(remote string) string { return "ssh -p 2222 kanri@192.0.2.1 " + remote }
	})
	keys(u, "7")
	cursorTo(t, u, "001 §2-1")
	shows(t, u, "cameras on no layout plan: cam2", "→ Layout plans: the command shown there files a plan.")
	keys(u, "l", "l", "l")
	shows(t, u, "[Layout plans]", p.ID, "本社ビル", "本社 配置図.pdf", hex.EncodeToString(sum[:]),
		"ssh -p 2222 kanri@192.0.2.1 layout get "+p.ID+" > '本社 配置図.pdf'",
		"ssh -p 2222 kanri@192.0.2.1 layout add --site SITE --file plan.pdf")
}

// The manager records a replacement and a medium disposed of (001 §8-1,
// §5-4) from the Maintenance tab; a technician is offered neither.
func TestUpkeepTabRecordsReplacementAndDisposal(t *testing.T) {
	rc := newRealCore(t, core.CompanyTemplate())
	u := rc.console(rc.manager, "ja", 140, 32, nil)
	keys(u, "7", "l", "l", "l", "l")
	shows(t, u, "[保守記録]", "d: 記録媒体の廃棄")
	keys(u, "i", "right")
	shows(t, u, "< 機器交換 >")
	keys(u, "tab", "right") // cam1
	shows(t, u, "< cam1 駅前 >")
	keys(u, "tab")
	typeText(u, "四街道電設")
	keys(u, "tab", "tab", "レンズユニット交換", "ctrl+s")
	shows(t, u, "cam1 の機器交換を記録しました。", "機器交換", "四街道電設")

	keys(u, "d")
	shows(t, u, "記録媒体の廃棄（001 §5-4）")
	keys(u, "ctrl+s") // media and method are required
	if n := len(rc.entries(core.ActionDisposal)); n != 0 {
		t.Fatalf("a disposal without media was recorded")
	}
	keys(u, "USBメモリ SN-1234", "tab", "物理破砕", "ctrl+s")
	shows(t, u, "USBメモリ SN-1234 の廃棄を記録しました。", "記録媒体の廃棄")

	var repl []core.Entry
	for _, e := range rc.entries(core.ActionMaintenance) {
		if e.Details["kind"] == core.MaintReplacement {
			repl = append(repl, e)
		}
	}
	if len(repl) != 1 || repl[0].Details["camera"] != "cam1" || repl[0].Details["performer"] != "四街道電設" ||
		repl[0].Details["notes"] != "レンズユニット交換" {
		t.Fatalf("replacement entries %+v", repl)
	}
	disp := rc.entries(core.ActionDisposal)
	if len(disp) != 1 || disp[0].Details["media"] != "USBメモリ SN-1234" || disp[0].Details["method"] != "物理破砕" ||
		disp[0].Actor.Name != "山田 太郎" {
		t.Fatalf("disposal entries %+v", disp)
	}

	tech := rc.enrol("田中 健", core.RoleTechnician, true)
	tu := rc.console(tech, "ja", 140, 32, nil)
	keys(tu, "2", "d")
	if tu.page().Capturing() {
		t.Fatalf("a technician opened the disposal form:\n%s", tu.View())
	}
	keys(tu, "i", "right")
	shows(t, tu, "< 点検 >")
}
