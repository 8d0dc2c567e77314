package tui

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// Compile-time: the real store is a Backend. (Checked in a test file so
// the package builds while core grows.)
var _ Backend = (*core.Store)(nil)

func TestRoleTabs(t *testing.T) {
	cases := []struct {
		role core.Role
		want []string
	}{
		{core.RoleManager, []string{"cameras", "recordings", "storage", "requests", "ledger", "keys", "upkeep"}},
		{core.RoleOperator, []string{"cameras", "recordings", "storage", "requests", "ledger"}},
		{core.RoleTechnician, []string{"storage", "upkeep"}},
		{core.RoleViewer, []string{}},
		{core.RoleNone, []string{}},
	}
	for _, c := range cases {
		u := syncUI(t, newFake(4), c.role, "en", 80, 24)
		got := u.Tabs()
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: tabs %v, want %v", c.role, got, c.want)
		}
		if len(u.pages) != len(c.want) {
			t.Errorf("%s: %d pages built, want %d", c.role, len(u.pages), len(c.want))
		}
		// Number keys beyond the role's tabs do nothing.
		press(u, "7")
		if len(c.want) < 7 && u.active != 0 {
			t.Errorf("%s: key 7 moved to tab %d", c.role, u.active)
		}
	}
}

// TestTechnicianReadsOnlyHealth: the technician's console never asks
// core for footage, requests, holds, keys or the ledger.
func TestTechnicianReadsOnlyHealth(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleTechnician, "ja", 80, 24)
	run(u, u.onTick())
	for _, c := range []string{"Requests", "Request ", "Ledger", "ChainStatus", "Holds", "Coverage", "Keys", "RefusedKeys"} {
		if got := f.called(c); len(got) > 0 {
			t.Errorf("technician called %v", got)
		}
	}
	if len(f.called("Health")) == 0 {
		t.Error("technician console never read health")
	}
	v := u.View()
	for _, s := range []string{"R-2026", "H-2026", "台帳", "利用申請"} {
		if strings.Contains(v, s) {
			t.Errorf("technician screen shows %q", s)
		}
	}
}

// TestNoForbiddenCalls: for every role, no load is attempted that core's
// permission table refuses (core would ledger each refusal).
func TestNoForbiddenCalls(t *testing.T) {
	need := map[string]core.Action{
		"Cameras": core.ActionCamerasRead, "Health": core.ActionHealthRead, "Holds": core.ActionHoldsRead,
		"Requests": core.ActionRequestsRead, "Ledger": core.ActionLedgerRead, "ChainStatus": core.ActionLedgerVerify,
		"Keys": core.ActionKeysRead, "RefusedKeys": core.ActionRefusedKeyRead, "Coverage": core.ActionRecordingsRead,
	}
	for _, role := range []core.Role{core.RoleManager, core.RoleOperator, core.RoleTechnician, core.RoleViewer} {
		f := newFake(4)
		u := syncUI(t, f, role, "en", 80, 24)
		for i := range u.tabs {
			run(u, u.switchTo(i))
			run(u, u.onTick())
		}
		for _, c := range f.called("") {
			name := strings.Fields(c)[0]
			if a, ok := need[name]; ok && !core.Allowed(role, a) {
				t.Errorf("%s called %s (%s not allowed)", role, c, a)
			}
		}
	}
}

func TestKeysEnrolRefusedKey(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "en", 80, 24)
	press(u, "6", "l", "e", "o")
	for _, r := range "Suzuki Hanako" {
		press(u, string(r))
	}
	press(u, "enter")
	for _, r := range "Chief" {
		press(u, string(r))
	}
	press(u, "enter")
	for _, r := range "Crisis office" {
		press(u, string(r))
	}
	press(u, "enter")
	// The pledge is shown (000 §11) and must be accepted.
	if v := u.View(); !strings.Contains(v, "confidentiality pledge") || !strings.Contains(v, "防犯カメラ及び画像データ") {
		t.Errorf("pledge not shown:\n%s", v)
	}
	if got := f.called("Enroll"); len(got) != 0 {
		t.Fatalf("enrolled before the pledge: %q", got)
	}
	press(u, "y")
	got := f.called("Enroll")
	want := "EnrollPerson manager name=Suzuki Hanako role=operator title=Chief section=Crisis office pledged=true key=" + f.refused[0].AuthorizedKey
	if len(got) != 1 || got[0] != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if !strings.Contains(u.View(), "Enrolled Suzuki Hanako.") {
		t.Errorf("no confirmation on screen:\n%s", u.View())
	}
	// The keys list was re-read after the action.
	if n := len(f.called("Keys")); n < 2 {
		t.Errorf("keys read %d times, want a reload", n)
	}
}

func TestKeysPasteRoleRevoke(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "ja", 80, 24)
	press(u, "6", "a")
	line := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPasted tech@van"
	_, cmd := u.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(line), Paste: true})
	run(u, cmd)
	press(u, "enter", "t", "高", "橋", "enter", "主", "任", "enter", "保", "守", "enter", "n")
	if got := f.called("Enroll"); len(got) != 0 {
		t.Fatalf("enrolled though the pledge was declined: %q", got)
	}
	press(u, "a")
	_, cmd = u.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(line), Paste: true})
	run(u, cmd)
	press(u, "enter", "t", "高", "橋", "enter", "主", "任", "enter", "保", "守", "enter", "y")
	if got := f.called("Enroll"); len(got) != 1 || got[0] != "EnrollPerson manager name=高橋 role=technician title=主任 section=保守 pledged=true key="+line {
		t.Fatalf("enrol calls %q", got)
	}

	// Change the role of the second enrolled key (佐藤 花子) to manager.
	press(u, "j", "r", "m")
	if got := f.called("ChangeKeyRole"); len(got) != 1 || got[0] != "ChangeKeyRole manager fp="+f.keys[1].Fingerprint+" role=manager" {
		t.Fatalf("role calls %q", got)
	}

	// Revoke needs a reason and a confirmation; "n" cancels.
	press(u, "x", "退", "職", "enter", "n")
	if got := f.called("RevokeKey"); len(got) != 0 {
		t.Fatalf("revoked without confirmation: %q", got)
	}
	press(u, "x", "退", "職", "enter", "y")
	if got := f.called("RevokeKey"); len(got) != 1 || got[0] != "RevokeKey manager fp="+f.keys[1].Fingerprint+" reason=退職" {
		t.Fatalf("revoke calls %q", got)
	}
}

func TestKeysActionErrorShown(t *testing.T) {
	f := newFake(4)
	f.failErr = core.Invalid("public_key", "not an authorized_keys line")
	u := syncUI(t, f, core.RoleManager, "en", 80, 24)
	press(u, "6", "a", "x", "enter", "m", "y", "enter", "t", "enter", "s", "enter", "y")
	if !strings.Contains(u.View(), "invalid public_key") {
		t.Errorf("error not shown:\n%s", u.View())
	}
}

// While a dialog has the keyboard, global keys type instead of acting.
func TestDialogCapturesGlobalKeys(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "en", 80, 24)
	press(u, "6", "a", "q", "L", "1")
	if u.s.lang != "en" || u.active != 5 {
		t.Fatalf("global keys acted inside the dialog: lang %s tab %d", u.s.lang, u.active)
	}
	_, cmd := u.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	if cmd != nil {
		if _, quit := cmd().(tea.QuitMsg); quit {
			t.Fatal("q quit from inside the dialog")
		}
	}
}

func TestLanguageSwitch(t *testing.T) {
	u := syncUI(t, newFake(4), core.RoleManager, "ja", 80, 24)
	if !strings.Contains(u.View(), "カメラ") {
		t.Fatal("not Japanese at start")
	}
	press(u, "L")
	v := u.View()
	if !strings.Contains(v, "Cameras") || strings.Contains(v, "カメラ]") {
		t.Fatalf("L did not switch to English:\n%s", v)
	}
	press(u, "L")
	if !strings.Contains(u.View(), "[1 カメラ]") {
		t.Fatal("L did not switch back")
	}
}

func TestRequestDetail(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "ja", 80, 24)
	press(u, "4", "j", "enter", "G")
	if got := f.called("Request manager"); len(got) != 1 || got[0] != "Request manager R-2026-0012" {
		t.Fatalf("detail read %q", got)
	}
	v := u.View()
	for _, s := range []string{"法令等（条例を含む。）に基づく場合（第８条本文）", "経過", "検索指示", "佐藤 花子 に指示"} {
		if !strings.Contains(v, s) {
			t.Errorf("detail lacks %q:\n%s", s, v)
		}
	}
	checkGeometry(t, v, 80, 24)
	press(u, "esc")
	if !strings.Contains(u.View(), "R-2026-0009") {
		t.Error("esc did not return to the list")
	}
}

func TestLedgerFilter(t *testing.T) {
	u := syncUI(t, newFake(4), core.RoleManager, "en", 120, 30)
	press(u, "5", "/")
	for _, r := range "action:login actor:sato" {
		press(u, string(r))
	}
	press(u, "enter")
	var lp *ledgerPage
	for _, p := range u.pages {
		if l, ok := p.(*ledgerPage); ok {
			lp = l
		}
	}
	shown := func() int { return len(u.s.data.ledger.Entries) }
	// 佐藤 has no ASCII name: actor:sato matches the fingerprint.
	for _, r := range lp.tbl.raw {
		if r[3] != "login" || !strings.Contains(r[2], "佐藤") {
			t.Errorf("row %v does not match the filter", r)
		}
	}
	if shown() != 1 {
		t.Errorf("%d rows match, want 1", shown())
	}
	press(u, "/")
	for range "action:login actor:sato" {
		_, cmd := u.Update(tea.KeyMsg{Type: tea.KeyBackspace})
		run(u, cmd)
	}
	for _, r := range "date:2026-11-19" {
		press(u, string(r))
	}
	press(u, "enter")
	for _, r := range lp.tbl.raw {
		if !strings.HasPrefix(r[1], "2026-11-19") {
			t.Errorf("row %v is not from 2026-11-19 (JST)", r)
		}
	}
	if shown() != 6 { // seq 1-6: 15:06 to 23:11 JST
		t.Errorf("%d rows on 2026-11-19, want 6", shown())
	}
	press(u, "esc")
	people := 0
	for _, e := range u.s.c.Core.(*fakeBackend).ledger {
		if core.ClassOf(e.Action) == core.ClassPeople {
			people++
		}
	}
	if shown() != people {
		t.Errorf("esc left %d rows, want all %d people's acts", shown(), people)
	}
}

// TestLedgerPagesFromCore: the ledger tab holds one page at a time, read
// from core newest first; ] and [ move between pages; m shows machine
// records, which people's acts leave out.
func TestLedgerPagesFromCore(t *testing.T) {
	f := newFake(4)
	for i := 0; i < 2*ledgerPageRows; i++ {
		seq := uint64(len(f.ledger) + 1)
		a := core.ActionErasure
		if i%2 == 0 {
			a = core.ActionLogin
		}
		f.ledger = append(f.ledger, core.Entry{Seq: seq, Time: testNow, Actor: actorFor(core.RoleManager), Action: a, Subject: "cam1"})
	}
	u := syncUI(t, f, core.RoleManager, "en", 120, 30)
	press(u, "5")
	d := &u.s.data
	if n := len(d.ledger.Entries); n != ledgerPageRows {
		t.Fatalf("first page: %d entries, want %d", n, ledgerPageRows)
	}
	for _, e := range d.ledger.Entries {
		if e.Action == core.ActionErasure {
			t.Fatal("machine records on the default page")
		}
	}
	top := d.ledger.Entries[0].Seq
	press(u, "]")
	if len(d.ledger.Entries) == 0 || d.ledger.Entries[0].Seq >= d.ledger.Entries[len(d.ledger.Entries)-1].Seq+ledgerPageRows ||
		d.ledger.Entries[0].Seq >= top {
		t.Fatalf("older page starts at %d (first page started at %d)", d.ledger.Entries[0].Seq, top)
	}
	press(u, "[")
	if d.ledger.Entries[0].Seq != top {
		t.Fatalf("back to the newest page: starts at %d, want %d", d.ledger.Entries[0].Seq, top)
	}
	press(u, "m") // all
	press(u, "m") // machine only
	for _, e := range d.ledger.Entries {
		if e.Action != core.ActionErasure {
			t.Fatalf("machine view shows %s", e.Action)
		}
	}
	if !strings.Contains(u.View(), "Machine records") {
		t.Errorf("the view does not say it shows machine records:\n%s", u.View())
	}
	if got := f.called("LedgerPage manager before=0 show=machine"); len(got) == 0 {
		t.Errorf("machine records not asked of core: %v", f.called("LedgerPage"))
	}
}

// TestLiveChanges: a change pushed by core reaches the screen through
// the subscription Cmd, and only what it touches is re-read.
func TestLiveChanges(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "en", 80, 24)
	before := len(f.called("Requests"))
	keysBefore := len(f.called("Keys"))
	f.reqs = append(f.reqs, f.reqs[0])
	f.reqs[len(f.reqs)-1].ID = "R-2026-0013"
	f.ledger = append(f.ledger, core.Entry{Seq: 13, Time: testNow, Actor: actorFor(core.RoleOperator),
		Action: core.ActionRequestRegister, Subject: "R-2026-0013"})

	ctx, cancel := context.WithCancel(context.Background())
	f.changes <- core.Change{Seq: 13, Action: core.ActionRequestRegister, Subject: "R-2026-0013"}
	msg := waitForChange(ctx, f.changes)()
	cs, ok := msg.(changesMsg)
	if !ok || len(cs) != 1 {
		t.Fatalf("got %#v", msg)
	}
	_, cmd := u.Update(cs)
	// The re-armed wait is part of cmd; cancel so it returns at once.
	cancel()
	run(u, cmd)
	if got := len(f.called("Requests")); got != before+1 {
		t.Errorf("requests read %d times after the change, want %d", got, before+1)
	}
	if got := len(f.called("Keys")); got != keysBefore {
		t.Errorf("keys re-read on a request change")
	}
	if got := f.called("LedgerPage manager before=0 "); len(got) < 2 {
		t.Errorf("the newest ledger page not re-read after the change: %q", f.called("LedgerPage"))
	}
	press(u, "4")
	if !strings.Contains(u.View(), "R-2026-0013") {
		t.Errorf("new request not on screen:\n%s", u.View())
	}
}

// waitForChange ends with the session and reports a closed channel.
func TestWaitForChangeStops(t *testing.T) {
	ch := make(chan core.Change)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan tea.Msg)
	go func() { done <- waitForChange(ctx, ch)() }()
	cancel()
	if m := <-done; m != nil {
		t.Fatalf("got %#v after cancel, want nil", m)
	}
	close(ch)
	if _, ok := waitForChange(context.Background(), ch)().(subClosedMsg); !ok {
		t.Fatal("closed channel not reported")
	}
}

// Every tab, both languages, odd sizes and the dialogs keep the frame
// geometry exact; tiny terminals do not panic.
func TestGeometry(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		for _, sz := range [][2]int{{80, 24}, {81, 25}, {100, 30}, {132, 43}, {160, 48}, {211, 61}} {
			u := syncUI(t, newFake(64), core.RoleManager, lang, sz[0], sz[1])
			for i := range u.tabs {
				run(u, u.switchTo(i))
				checkGeometry(t, u.View(), sz[0], sz[1])
				press(u, "G")
				checkGeometry(t, u.View(), sz[0], sz[1])
			}
			press(u, "6", "a")
			checkGeometry(t, u.View(), sz[0], sz[1])
			press(u, "esc", "5", "/")
			checkGeometry(t, u.View(), sz[0], sz[1])
			press(u, "esc", "4", "enter")
			checkGeometry(t, u.View(), sz[0], sz[1])
			press(u, "esc", "?")
			checkGeometry(t, u.View(), sz[0], sz[1])
		}
	}
	for _, sz := range [][2]int{{0, 0}, {1, 1}, {10, 3}, {40, 10}, {79, 23}} {
		u := syncUI(t, newFake(8), core.RoleManager, "ja", sz[0], sz[1])
		for i := range u.tabs {
			run(u, u.switchTo(i))
			_ = u.View()
		}
		u.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		checkGeometry(t, u.View(), 80, 24)
	}
}

// A load error is reported on the status line, not as a crash.
func TestLoadErrorShown(t *testing.T) {
	u := syncUI(t, newFake(2), core.RoleManager, "en", 80, 24)
	u.Update(requestsMsg{err: errors.New("database is closed")})
	if !strings.Contains(u.View(), "database is closed") {
		t.Errorf("error not shown:\n%s", u.View())
	}
}

func TestTimeline(t *testing.T) {
	st := DefaultStyles(asciiRenderer())
	from := testNow.Add(-10 * time.Hour)
	spans := []core.Span{{Start: from, End: from.Add(4 * time.Hour)}, {Start: from.Add(5*time.Hour + 30*time.Minute), End: testNow}}
	holds := []core.Hold{{From: from.Add(8 * time.Hour), To: from.Add(9 * time.Hour)}}
	got := timeline(spans, holds, from, testNow, 10, st)
	if want := "████.▒██▓█"; got != want {
		t.Fatalf("timeline %q, want %q", got, want)
	}
}

// TestLedgerVerifyAll: V runs the full verification (with progress) and
// says how it ended; the checkpoint is on the ledger tab.
func TestLedgerVerifyAll(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "en", 120, 30)
	press(u, "5")
	if v := u.View(); !strings.Contains(v, "Checkpoint: 12 entries, root 3031323334353637…") {
		t.Errorf("no checkpoint on the ledger tab:\n%s", v)
	}
	press(u, "V")
	if len(f.called("VerifyLedgerProgress manager")) != 1 {
		t.Fatalf("V did not verify: %v", f.called("Verify"))
	}
	if !strings.Contains(u.View(), "Ledger verified in full: 12 entries intact") {
		t.Errorf("no result in the status line:\n%s", u.View())
	}
	// Operators may not verify: V does nothing for them.
	f2 := newFake(4)
	u2 := syncUI(t, f2, core.RoleOperator, "en", 120, 30)
	press(u2, "5", "V")
	if got := f2.called("VerifyLedgerProgress"); len(got) != 0 {
		t.Errorf("operator verified: %v", got)
	}
}
