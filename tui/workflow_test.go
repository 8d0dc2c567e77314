package tui

import (
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// syncUIWith is syncUI with extra Common settings (export dir, viewer).
func syncUIWith(t testing.TB, f *fakeBackend, role core.Role, lang string, w, h int, set func(*Common)) *UI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := testCommon(ctx, f, role, lang, w, h)
	if set != nil {
		set(&c)
	}
	u := New(c).(*UI)
	u.quiet = true
	run(u, u.Init())
	return u
}

func withAll(f *fakeBackend) func(*Common) {
	return func(c *Common) {
		c.ExportDir = "/srv/exports"
		c.Viewer = fakeViewer{f: f}
		c.SessionID = "sess-1"
	}
}

// keyMsg turns a key name (or text to type) into a message.
func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "ctrl+s":
		return tea.KeyMsg{Type: tea.KeyCtrlS}
	case "ctrl+u":
		return tea.KeyMsg{Type: tea.KeyCtrlU}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// keys sends each key (or typed text) and runs what it starts.
func keys(u *UI, ks ...string) {
	for _, k := range ks {
		_, cmd := u.Update(keyMsg(k))
		run(u, cmd)
	}
}

func reqPage(u *UI) *requestsPage {
	for _, p := range u.pages {
		if r, ok := p.(*requestsPage); ok {
			return r
		}
	}
	return nil
}

func recPage(u *UI) *recordingsPage {
	for _, p := range u.pages {
		if r, ok := p.(*recordingsPage); ok {
			return r
		}
	}
	return nil
}

func wantCalls(t *testing.T, f *fakeBackend, prefix string, want ...string) {
	t.Helper()
	got := f.called(prefix)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls %q\nwant  %q", got, want)
	}
}

// Form 2 entered field by field reaches core with every field.
func TestRegisterRequestAllFields(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleOperator, "en", 80, 24, nil)
	keys(u, "4", "n")
	if reqPage(u).act == nil {
		t.Fatal("n opened no form")
	}
	keys(u, "tab", "1-1 Kadota, Yotsukaido", "tab", "Yotsukaido Police", "tab", "Chief Takahashi",
		"tab", "Suzuki, community safety", "tab", "043-421-0110",
		"tab", "right", // purpose: other
		"tab", "missing person",
		"tab", "left", "left", // ground: law -> ordinance -> internal (000 §8(3) needs a note)
		"tab", "court order pending",
		"tab", "space", "right", "right", "space", // cam01 and cam03
		"tab", "2026-11-18 10:00", "tab", "2026-11-18 12:00",
		"tab", "seen near the gate", "tab", "四警発第200号")
	if len(f.called("Coverage operator cam01")) < 2 {
		t.Errorf("no coverage check of the range: %q", f.called("Coverage"))
	}
	keys(u, "enter")
	wantCalls(t, f, "RegisterRequest",
		"RegisterRequest operator received=2026-11-20T01:30:00Z address=1-1 Kadota, Yotsukaido agency=Yotsukaido Police "+
			"rep=Chief Takahashi contact=Suzuki, community safety phone=043-421-0110 purpose=other reason=missing person "+
			"ground=internal note=court order pending cameras=cam01,cam03 from=2026-11-18T01:00:00Z to=2026-11-18T03:00:00Z "+
			"notes=seen near the gate ref=四警発第200号")
	if reqPage(u).act != nil {
		t.Error("form still open after success")
	}
	if v := u.View(); !strings.Contains(v, "Registered R-2026-0104.") || !strings.Contains(v, "R-2026-0104") {
		t.Errorf("no confirmation or new row:\n%s", v)
	}
}

// Validation as you type: a bad range is shown at its field and nothing
// is sent; a core field error lands next to the field it names.
func TestRequestFormValidation(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleManager, "en", 80, 24, nil)
	keys(u, "4", "n")
	for i := 0; i < 9; i++ { // to From: purpose reason and ground note are hidden
		keys(u, "tab")
	}
	keys(u, "2026-11-18 12:00", "tab", "2026-11-18 10:00")
	if v := u.View(); !strings.Contains(v, "must be after from") {
		t.Errorf("order error not shown:\n%s", v)
	}
	keys(u, "ctrl+s")
	if got := f.called("RegisterRequest"); len(got) != 0 {
		t.Fatalf("invalid form was sent: %q", got)
	}
	if v := u.View(); !strings.Contains(v, "! required") {
		t.Errorf("required fields not marked after submit:\n%s", v)
	}
	// A date that does not parse.
	keys(u, "esc", "n", "ctrl+u", "yesterday")
	if v := u.View(); !strings.Contains(v, "use YYYY-MM-DD hh:mm") {
		t.Errorf("bad date not shown:\n%s", v)
	}
	// An error from core is put next to its field.
	p := reqPage(u)
	p.act.form.setErr(core.Invalid("phone", "too long"))
	if v := u.View(); !strings.Contains(v, "! too long") {
		t.Errorf("core field error not shown:\n%s", v)
	}
}

func TestApproveDenyInstruct(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleManager, "ja", 80, 24, withAll(f))
	// Rows: R-2026-0010 registered, -0012 instructed, -0011 searched, -0009 closed.
	keys(u, "4", "j", "j", "a", "ctrl+s")
	if got := f.called("Approve"); len(got) != 0 {
		t.Fatalf("approved without the judgement (000 §8): %q", got)
	}
	keys(u, "不当侵害のおそれなし", "ctrl+s")
	wantCalls(t, f, "Approve", "Approve manager R-2026-0011 judgement=不当侵害のおそれなし ranges=cam03 01:30:00-03:30:00")
	wantCalls(t, f, "ProtectPackage", "ProtectPackage manager R-2026-0011 key=")
	// The secret is shown to the manager once, until its last group is
	// typed back (written down) or the manager closes it knowingly.
	if v := u.View(); !strings.Contains(v, "AGE-SECRET-KEY-1FAKESECRETFORTHECONSOLE") {
		t.Errorf("package secret not shown:\n%s", v)
	}
	keys(u, "enter")
	if !strings.Contains(u.View(), "FAKESECRET") {
		t.Error("the secret went away without being confirmed")
	}
	keys(u, "esc", "y")
	if strings.Contains(u.View(), "FAKESECRET") {
		t.Error("the secret stays on screen")
	}

	keys(u, "g", "d", "enter")
	if got := f.called("Deny"); len(got) != 0 {
		t.Fatalf("denied without a reason: %q", got)
	}
	keys(u, "証拠として不十分", "enter")
	wantCalls(t, f, "Deny", "Deny manager R-2026-0010 reason=証拠として不十分")

	keys(u, "j", "i", "enter")
	// By key (shown by name in the form): core resolves the fingerprint.
	wantCalls(t, f, "InstructSearch", "InstructSearch manager R-2026-0012 operator=SHA256:opSatoBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
}

func TestResultProvideClose(t *testing.T) {
	f := newFake(4)
	f.reqs[1].State = core.StateInstructed
	u := syncUIWith(t, f, core.RoleOperator, "en", 80, 24, withAll(f))
	keys(u, "4", "j", "enter", "r", "right", "right", "tab", "plate not readable", "ctrl+s")
	wantCalls(t, f, "RecordResult", "RecordResult operator R-2026-0012 found=other note=plate not readable ranges=")

	f.reqs[2].State = core.StateExported
	m := syncUIWith(t, f, core.RoleManager, "en", 80, 24, withAll(f))
	keys(m, "4", "j", "j", "p", "Sgt. Ito", "tab", "tab", "police ID card", "enter", "enter", "enter", "USB memory 3", "enter")
	wantCalls(t, f, "RecordProvision",
		"RecordProvision manager R-2026-0011 recipient=Sgt. Ito agency=千葉県警察本部 iddoc=police ID card date=2026-11-19T15:00:00Z ref=四警発第123号 medium=USB memory 3")
	f.reqs[2].State = core.StateProvided
	keys(m, "esc", "c", "enter")
	wantCalls(t, f, "CloseRequest", "CloseRequest manager R-2026-0011")
}

func TestExportWithPassphrase(t *testing.T) {
	f := newFake(4)
	f.reqs[2].State, f.reqs[2].Protection = core.StateApproved, fakeProtection()
	u := syncUIWith(t, f, core.RoleOperator, "en", 80, 24, withAll(f))
	keys(u, "4", "j", "j", "enter", "x", "correct horse", "enter")
	wantCalls(t, f, "ExportRequest", "ExportRequest operator R-2026-0011 passphrase=correct horse dir=/srv/exports")
	v := u.View()
	if strings.Contains(v, "correct horse") {
		t.Error("passphrase on screen")
	}
	if !strings.Contains(v, "Exported R-2026-0011.") {
		t.Errorf("no confirmation:\n%s", v)
	}
}

// Without the manager's lock the export form asks for nothing.
func TestExportWithoutLock(t *testing.T) {
	f := newFake(4)
	f.noLock = true
	f.reqs[2].State, f.reqs[2].Protection = core.StateApproved, fakeProtection()
	u := syncUIWith(t, f, core.RoleOperator, "en", 80, 24, withAll(f))
	keys(u, "4", "j", "j", "enter", "x", "enter")
	wantCalls(t, f, "ExportRequest", "ExportRequest operator R-2026-0011 passphrase= dir=/srv/exports")
}

func TestExportWrongPassphrase(t *testing.T) {
	f := newFake(4)
	f.reqs[2].State, f.reqs[2].Protection = core.StateApproved, fakeProtection()
	u := syncUIWith(t, f, core.RoleManager, "en", 80, 24, withAll(f))
	f.failErr = core.ErrWrongPassphrase
	keys(u, "4", "j", "j", "x", "nope", "enter")
	p := reqPage(u)
	if p.act == nil || p.act.form.field("passphrase").err == "" {
		t.Fatal("wrong passphrase not shown at the field")
	}
	if !strings.Contains(u.View(), "wrong passphrase") {
		t.Errorf("not on screen:\n%s", u.View())
	}
}

// No export directory: no export action.
func TestNoExportDirNoExport(t *testing.T) {
	f := newFake(4)
	f.reqs[2].State, f.reqs[2].Protection = core.StateApproved, fakeProtection()
	u := syncUIWith(t, f, core.RoleManager, "en", 80, 24, nil)
	keys(u, "4", "j", "j", "x")
	if reqPage(u).act != nil || len(f.called("ExportRequest")) != 0 {
		t.Fatal("export offered without an export directory")
	}
}

// Operators never see approve, deny, instruct, hand over or close, on
// any request in any state; managers do where the paperwork allows.
func TestOperatorNeverSeesManagerSteps(t *testing.T) {
	states := []core.RequestState{core.StateRegistered, core.StateInstructed, core.StateSearched, core.StateApproved,
		core.StateDenied, core.StateExported, core.StateProvided, core.StateClosed}
	f := newFake(4)
	op := syncUIWith(t, f, core.RoleOperator, "en", 80, 24, withAll(f))
	mgr := syncUIWith(t, f, core.RoleManager, "en", 80, 24, withAll(f))
	k := op.s.keys
	forbidden := []key.Binding{k.Approve, k.Deny, k.Instruct, k.Provide, k.CloseReq}
	seen := map[string]bool{}
	for _, st := range states {
		r := f.reqs[2]
		r.State = st
		for _, b := range reqPage(op).actions(r) {
			for _, x := range forbidden {
				if b.Keys()[0] == x.Keys()[0] {
					t.Errorf("operator offered %q on a %s request", b.Help().Desc, st)
				}
			}
		}
		for _, b := range reqPage(mgr).actions(r) {
			seen[b.Keys()[0]] = true
		}
	}
	for _, x := range forbidden {
		if !seen[x.Keys()[0]] {
			t.Errorf("manager never offered %q", x.Help().Desc)
		}
	}
	// Pressing the keys does nothing for the operator.
	keys(op, "4", "i", "a", "d", "j", "j", "a", "d", "c")
	if reqPage(op).act != nil {
		t.Fatalf("operator opened a %s form", reqPage(op).act.step)
	}
	for _, c := range []string{"Approve", "Deny", "InstructSearch", "CloseRequest", "RecordProvision"} {
		if got := f.called(c); len(got) > 0 {
			t.Errorf("operator console called %q", got)
		}
	}
	keys(op, "g", "enter")
	if v := op.View(); strings.Contains(v, "approve") || strings.Contains(v, "[i]") {
		t.Errorf("operator detail shows a manager step:\n%s", v)
	}
}

func TestTechnicianSeesNoRequests(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleTechnician, "en", 80, 24, withAll(f))
	for _, tab := range u.Tabs() {
		if tab == "requests" || tab == "recordings" {
			t.Fatalf("technician has tab %s", tab)
		}
	}
	keys(u, "n", "4", "n", "h", "v", "x")
	for _, c := range []string{"Request", "RegisterRequest", "AddHold", "Mint", "ExportRequest", "Holds"} {
		if got := f.called(c); len(got) > 0 {
			t.Errorf("technician console called %q", got)
		}
	}
	if v := u.View(); strings.Contains(v, "R-2026") || strings.Contains(v, "request") {
		t.Errorf("technician screen shows requests:\n%s", v)
	}
}

func TestAddAndReleaseHold(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleManager, "en", 80, 24, withAll(f))
	keys(u, "2", "j", "h", "tab", "ctrl+u", "2026-11-18 09:00", "tab", "ctrl+u", "2026-11-18 18:00",
		"tab", "ctrl+u", "2026-12-31", "tab", "vandalism under investigation", "enter")
	wantCalls(t, f, "AddHold", "AddHold manager camera=cam02 from=2026-11-18T00:00:00Z to=2026-11-18T09:00:00Z "+
		"until=2026-12-30T15:00:00Z reason=vandalism under investigation")
	if !strings.Contains(u.View(), "Added hold H-2026-0102.") {
		t.Errorf("no confirmation:\n%s", u.View())
	}

	// Release from the holds list: the selected hold, with a reason.
	keys(u, "H")
	if !strings.Contains(u.View(), "H-2026-0102") {
		t.Errorf("holds list lacks the new hold:\n%s", u.View())
	}
	keys(u, "R", "enter")
	if got := f.called("ReleaseHold"); len(got) != 0 {
		t.Fatalf("released without a reason: %q", got)
	}
	keys(u, "no longer needed", "enter")
	wantCalls(t, f, "ReleaseHold", "ReleaseHold manager H-2026-0102 reason=no longer needed")
}

func TestHoldValidation(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleManager, "en", 80, 24, nil)
	keys(u, "2", "h", "tab", "tab", "tab", "ctrl+u", "2026-01-01", "tab", "x", "enter")
	if len(f.called("AddHold")) != 0 {
		t.Fatal("hold with a past end was sent")
	}
	if !strings.Contains(u.View(), "must be in the future") {
		t.Errorf("until error not shown:\n%s", u.View())
	}
	// Core refuses for lack of room: the reason reaches the screen.
	f.failErr = core.Invalid("until", "more than 90 days ahead")
	keys(u, "ctrl+u", "2026-12-01", "ctrl+s")
	if !strings.Contains(u.View(), "more than 90 days ahead") {
		t.Errorf("core error not shown:\n%s", u.View())
	}
}

// Operators may not add or release holds: the keys are not offered.
func TestOperatorNoHoldActions(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleOperator, "en", 120, 30, withAll(f))
	keys(u, "2", "h", "R")
	if recPage(u).act != nil || len(f.called("AddHold")) > 0 || len(f.called("ReleaseHold")) > 0 {
		t.Fatal("operator got a hold dialog")
	}
	if v := u.View(); strings.Contains(v, "add hold") || strings.Contains(v, "release hold") {
		t.Errorf("operator help shows hold actions:\n%s", v)
	}
}

func TestViewCameraAndRequest(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleOperator, "en", 80, 24, withAll(f))
	keys(u, "2", "v", "ctrl+s")
	if len(f.called("Mint")) != 0 {
		t.Fatal("a recorded range was minted without a purpose")
	}
	keys(u, "patrol check", "ctrl+s") // the refusal put the cursor on the purpose
	wantCalls(t, f, "Mint", "Mint operator session=sess-1 camera=cam01 from=2026-11-20T00:30:00Z to=2026-11-20T01:30:00Z live=false")
	v := u.View()
	for _, s := range []string{"ssh -N -L 18554:127.0.0.1:18554 -p 2222 mimamori.local", "rtsp://127.0.0.1:18554/v/cam01-tok3n"} {
		if !strings.Contains(v, s) {
			t.Errorf("view lacks %q:\n%s", s, v)
		}
	}
	checkGeometry(t, v, 80, 24)
	keys(u, "esc")

	// Live, where the policy allows it.
	keys(u, "v", "right", "enter")
	if got := f.called("Mint"); len(got) != 2 || !strings.HasSuffix(got[1], "from=0 to=0 live=true") {
		t.Fatalf("live mint %q", got)
	}
	keys(u, "esc")

	// Check by playback: the request's cameras and range.
	keys(u, "4", "j", "v")
	got := f.called("Mint")
	if len(got) != 4 || got[2] != "Mint operator session=sess-1 camera=cam01 from=2026-11-16T23:30:00Z to=2026-11-17T01:30:00Z live=false" ||
		!strings.Contains(got[3], "camera=cam02") {
		t.Fatalf("request mint %q", got)
	}
	if !strings.Contains(u.View(), "cam02-tok3n") {
		t.Errorf("request links not shown:\n%s", u.View())
	}
}

// Without a Viewer, viewing is never offered.
func TestNoViewerNoView(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleManager, "en", 120, 30, nil)
	keys(u, "2", "v", "4", "j", "v")
	if len(f.called("Mint")) > 0 || recPage(u).act != nil || reqPage(u).links != nil {
		t.Fatal("view offered without a Viewer")
	}
	keys(u, "enter")
	if strings.Contains(u.View(), "[v]") {
		t.Errorf("detail offers view:\n%s", u.View())
	}
}

// The coverage check warns (without blocking) when a camera did not
// record part of the range.
func TestRequestFormCoverageWarning(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleManager, "en", 100, 30, nil)
	keys(u, "4", "n")
	for i := 0; i < 8; i++ {
		keys(u, "tab")
	}
	keys(u, "right", "right", "space", "tab", "2026-11-20 00:00", "tab", "2026-11-20 02:00") // cam03 is down since 19:30
	if got := f.called("Coverage manager cam03"); len(got) == 0 {
		t.Fatal("no coverage check")
	}
	if v := u.View(); !strings.Contains(v, "not recorded: cam03 2h 0m") {
		t.Errorf("no coverage warning:\n%s", v)
	}
}

// Forms, progress and links keep the frame exact at odd sizes.
func TestWorkflowGeometry(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		for _, sz := range [][2]int{{80, 24}, {81, 25}, {100, 30}, {160, 48}} {
			f := newFake(16)
			f.reqs[2].State, f.reqs[2].Protection = core.StateApproved, fakeProtection()
			u := syncUIWith(t, f, core.RoleManager, lang, sz[0], sz[1], withAll(f))
			check := func(what string) {
				t.Helper()
				if t.Failed() {
					return
				}
				checkGeometry(t, u.View(), sz[0], sz[1])
				if t.Failed() {
					t.Logf("%s %dx%d %s", lang, sz[0], sz[1], what)
				}
			}
			keys(u, "4", "n", "ctrl+s")
			check("form2 after submit")
			keys(u, "esc", "j", "j", "x")
			check("export form")
			keys(u, "esc", "v")
			check("links")
			keys(u, "esc", "2", "h")
			check("hold form")
			keys(u, "esc", "H")
			check("holds list")
			keys(u, "R")
			check("release form")
		}
	}
}

// A manager releases every hold of a request in one act from the holds
// list (the console's side of `hold release --request`).
func TestReleaseEveryHoldOfRequest(t *testing.T) {
	f := newFake(4)
	u := syncUIWith(t, f, core.RoleManager, "en", 100, 30, withAll(f))
	keys(u, "2", "H", "R")
	// The choices: the two holds, then the request's "every hold".
	keys(u, "right", "right")
	if v := u.View(); !strings.Contains(v, "every hold of request R-2026-0012") {
		t.Fatalf("release form lacks the request choice:\n%s", v)
	}
	keys(u, "tab", "request withdrawn", "enter")
	wantCalls(t, f, "ReleaseRequestHolds", "ReleaseRequestHolds manager R-2026-0012 reason=request withdrawn")
	if !strings.Contains(u.View(), "Released every hold of request R-2026-0012.") {
		t.Errorf("no confirmation:\n%s", u.View())
	}
}
