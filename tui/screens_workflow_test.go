package tui

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"mimamori/core"
)

// step is keys to send, then texts to wait for on screen.
type step struct {
	keys []string
	want []string
}

// screenSteps runs the console under teatest through steps and returns
// the final frame.
func screenSteps(t *testing.T, f *fakeBackend, role core.Role, lang string, w, h int, steps ...step) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := testCommon(ctx, f, role, lang, w, h)
	withAll(f)(&c)
	tm := teatest.NewTestModel(t, New(c), teatest.WithInitialTermSize(w, h))
	for _, st := range steps {
		for _, k := range st.keys {
			tm.Send(keyMsg(k))
		}
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			for _, s := range st.want {
				if !bytes.Contains(b, []byte(s)) {
					return false
				}
			}
			return true
		}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).View()
}

// TestScreensWorkflow: the request workflow and hold screens against
// testdata/TestScreensWorkflow/*.golden (-update regenerates).
func TestScreensWorkflow(t *testing.T) {
	loaded := step{keys: []string{"4"}, want: []string{"R-2026-0012"}}
	form2 := func(lang string) []step {
		return []step{loaded, {keys: []string{"n", "tab", "千葉県四街道市鹿渡無番地", "tab", "Yotsukaido Police",
			"tab", "tab", "tab", "tab", "right", "tab", "missing person", "tab", "tab", "space", "right", "space",
			"tab", "2026-11-18 10:00", "tab", "2026-11-18 09:00"},
			want: []string{"2026-11-18 09:00", "missing person"}}}
	}
	detail := step{keys: []string{"j", "enter"}, want: []string{"四警発第123号"}}
	cases := []struct {
		name  string
		role  core.Role
		lang  string
		w, h  int
		prep  func(f *fakeBackend)
		steps []step
	}{
		{name: "form2_en_80x24", role: core.RoleOperator, lang: "en", w: 80, h: 24, steps: form2("en")},
		{name: "form2_ja_80x24", role: core.RoleOperator, lang: "ja", w: 80, h: 24, steps: form2("ja")},
		{name: "detail_manager_ja_80x40", role: core.RoleManager, lang: "ja", w: 80, h: 40,
			steps: []step{loaded, detail}},
		{name: "detail_operator_en_80x40", role: core.RoleOperator, lang: "en", w: 80, h: 40,
			steps: []step{loaded, detail}},
		{name: "detail_searched_manager_en_80x40", role: core.RoleManager, lang: "en", w: 80, h: 40,
			steps: []step{loaded, {keys: []string{"j", "j", "enter"}, want: []string{"10:12-10:15"}}}},
		{name: "export_progress_en_80x24", role: core.RoleOperator, lang: "en", w: 80, h: 24,
			prep: func(f *fakeBackend) {
				f.reqs[2].State, f.reqs[2].Protection = core.StateApproved, fakeProtection()
				f.exportGate = make(chan struct{})
			},
			steps: []step{loaded, {keys: []string{"j", "j", "x", "secret", "enter"}, want: []string{"40.0%"}}}},
		{name: "hold_add_ja_80x24", role: core.RoleManager, lang: "ja", w: 80, h: 24,
			steps: []step{{keys: []string{"2"}, want: []string{"H-2026-0001"}},
				{keys: []string{"j", "h", "tab", "tab", "tab", "tab", "器物損壊の捜査のため延長"}, want: []string{"捜査のため延長"}}}},
		{name: "hold_release_en_80x24", role: core.RoleManager, lang: "en", w: 80, h: 24,
			steps: []step{{keys: []string{"2"}, want: []string{"H-2026-0001"}},
				{keys: []string{"H", "j", "R", "tab", "investigation closed"}, want: []string{"investigation closed"}}}},
		{name: "approve_secret_ja_80x24", role: core.RoleManager, lang: "ja", w: 80, h: 24,
			steps: []step{loaded, {keys: []string{"j", "j", "a", "不当侵害のおそれなし", "ctrl+s"}, want: []string{"FAKESECRET"}}}},
		{name: "approve_secret_en_80x24", role: core.RoleManager, lang: "en", w: 80, h: 24,
			steps: []step{loaded, {keys: []string{"j", "j", "a", "no undue infringement", "ctrl+s"}, want: []string{"FAKESECRET"}}}},
		{name: "approve_sheet_ja_80x24", role: core.RoleManager, lang: "ja", w: 80, h: 24,
			steps: []step{loaded, {keys: []string{"j", "j", "a", "不当侵害のおそれなし", "tab", "tab", "right", "ctrl+s"},
				want: []string{"鍵シート"}}}},
		{name: "view_camera_en_80x24", role: core.RoleOperator, lang: "en", w: 80, h: 24,
			steps: []step{{keys: []string{"2"}, want: []string{"H-2026-0001"}},
				{keys: []string{"v", "tab", "tab", "patrol check", "ctrl+s"}, want: []string{"cam01-tok3n"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(8)
			if c.prep != nil {
				c.prep(f)
			}
			view := screenSteps(t, f, c.role, c.lang, c.w, c.h, c.steps...)
			checkGeometry(t, view, c.w, c.h)
			golden.RequireEqual(t, []byte(view))
		})
	}
}
