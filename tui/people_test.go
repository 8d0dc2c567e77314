package tui

import (
	"strings"
	"testing"

	"mimamori/core"
)

// The manager records a bootstrap key's 職名 and 所属 and its holder's
// confidentiality pledge from the Keys tab (staff set, staff pledge):
// core stores and ledgers each, the table shows them, the warning goes.
func TestKeysTabRecordsProfileAndPledge(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	op := rc.enrol("鈴木 一郎", core.RoleOperator, false)
	if !contains(rc.warningCodes(""), core.WarnPersonIncomplete) {
		t.Fatal("a bare key raises no warning")
	}
	for _, lang := range []string{"ja", "en"} {
		u := rc.console(rc.manager, lang, 140, 30, nil)
		keys(u, "6")
		cursorTo(t, u, "鈴木 一郎")
		if lang == "en" {
			// English session: the same dialog, cancelled.
			keys(u, "t")
			shows(t, u, "Correct the record:", "Job title (職名) of 鈴木 一郎")
			keys(u, "esc")
			continue
		}
		keys(u, "t")
		shows(t, u, "記録の訂正:", "鈴木 一郎 の職名")
		typeText(u, "主事")
		keys(u, "enter")
		shows(t, u, "鈴木 一郎 の所属")
		typeText(u, "危機管理室")
		keys(u, "enter")
		shows(t, u, "鈴木 一郎 の職名・所属を記録しました。", "主事", "危機管理室")

		keys(u, "p")
		pl := core.CityStandard().Pledge
		shows(t, u, "鈴木 一郎 の守秘義務の誓約", pl.Text[:30], "受諾を確認して記録")
		keys(u, "y")
		shows(t, u, "鈴木 一郎 の誓約を記録しました。")
	}

	k := rc.key(op.Fingerprint)
	if k.JobTitle != "主事" || k.Section != "危機管理室" || k.Pledge == nil || k.Pledge.Witness != "山田 太郎" {
		t.Fatalf("stored %+v pledge %+v", k, k.Pledge)
	}
	prof := rc.entries(core.ActionKeyProfile)
	if len(prof) != 1 || prof[0].Subject != op.Fingerprint || prof[0].Actor.Name != "山田 太郎" ||
		prof[0].Details["job_title"] != " -> 主事" || prof[0].Details["section"] != " -> 危機管理室" {
		t.Fatalf("key.profile entries %+v", prof)
	}
	pledges := rc.entries(core.ActionPledge)
	last := pledges[len(pledges)-1]
	if last.Subject != op.Fingerprint || last.Details["version"] != "000-11/1" || last.Details["text_sha256"] == "" {
		t.Fatalf("key.pledge entry %+v", last)
	}
	if contains(rc.warningCodes(""), core.WarnPersonIncomplete) {
		t.Error("the record is complete, the warning stays")
	}
	// A second pledge of the same wording is refused by core, shown.
	u := rc.console(rc.manager, "en", 100, 30, nil)
	keys(u, "6")
	cursorTo(t, u, "鈴木 一郎")
	keys(u, "p", "y")
	shows(t, u, "Failed", "already accepted pledge")
}

// The city has one manager (000 §5-2): the manager hands the role to a
// successor whose record is complete; their own key is revoked in the
// same act. A successor with no pledge is refused with core's reason.
func TestKeysTabHandsTheManagerRoleOver(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	bare := rc.enrol("新人 一郎", core.RoleOperator, false)
	next := rc.enrol("佐藤 花子", core.RoleOperator, true)
	u := rc.console(rc.manager, "en", 110, 30, nil)
	keys(u, "6")

	cursorTo(t, u, "新人 一郎")
	keys(u, "o", "transfer", "enter", "y")
	shows(t, u, "Failed", "record 新人 一郎's job_title, section, pledge first")
	if k := rc.key(bare.Fingerprint); k.Role != core.RoleOperator {
		t.Fatalf("incomplete successor became %s", k.Role)
	}

	keys(u, "g")
	cursorTo(t, u, "佐藤 花子")
	keys(u, "o")
	shows(t, u, "Hand the manager role to 佐藤 花子")
	keys(u, "人事異動", "enter")
	shows(t, u, "Make 佐藤 花子 the manager? Your own key (山田 太郎) is revoked at once")
	keys(u, "y")
	shows(t, u, "Handed the manager role to 佐藤 花子.")

	if k := rc.key(next.Fingerprint); k.Role != core.RoleManager {
		t.Fatalf("successor is %s", k.Role)
	}
	if k := rc.key(rc.manager.Fingerprint); k.RevokedAt.IsZero() {
		t.Fatal("the handing-over key is still active")
	}
	ch := rc.entries(core.ActionKeyRoleChange)
	if len(ch) != 1 || ch[0].Details["handover_from"] != "山田 太郎" || ch[0].Details["reason"] != "人事異動" || ch[0].Details["to"] != "manager" {
		t.Fatalf("role-change entries %+v", ch)
	}
	rv := rc.entries(core.ActionKeyRevoke)
	if len(rv) != 1 || rv[0].Subject != rc.manager.Fingerprint || !strings.Contains(rv[0].Details["reason"], "handed over to 佐藤 花子") {
		t.Fatalf("revoke entries %+v", rv)
	}
}

// Only a role the permission table lets record people is offered the
// keys; the others never see the Keys tab at all.
func TestPeopleActionsOfferedByPermission(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	op := rc.enrol("佐藤 花子", core.RoleOperator, true)
	u := rc.console(op, "en", 100, 30, nil)
	for _, tab := range u.Tabs() {
		if tab == "keys" {
			t.Fatalf("operator has the keys tab: %v", u.Tabs())
		}
	}
	mgr := rc.console(rc.manager, "en", 160, 30, nil)
	keys(mgr, "6")
	shows(t, mgr, "t title/section", "p pledge", "o hand over")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// A command line longer than the screen is wrapped between words with a
// shell continuation, never inside a quoted file name, never cut.
func TestCommandLinesWrapWhole(t *testing.T) {
	cmd := "ssh -p 2222 kanri@192.0.2.1 layout get L-2026-0001 > '本社 配置図 第2版.pdf'"
	lines := hardwrap(cmd, 40)
	var joined []string
	for i, l := range lines {
		if width(l) > 40 {
			t.Errorf("line %d is %d cells: %q", i, width(l), l)
		}
		if i < len(lines)-1 && !strings.HasSuffix(l, " \\") {
			t.Errorf("line %d does not continue: %q", i, l)
		}
		joined = append(joined, strings.TrimSpace(strings.TrimSuffix(l, " \\")))
	}
	if got := strings.Join(joined, " "); got != cmd {
		t.Fatalf("wrapped lines join to %q, want %q", got, cmd)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "'本社 配置図 第2版.pdf'") {
		t.Errorf("the quoted name was broken: %q", lines)
	}
}
