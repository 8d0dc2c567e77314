package tui

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"mimamori/core"
)

// markers are texts that appear only once a tab's data has arrived, so
// the final screen is complete before it is compared.
func markers(t tabID, lang string) []string {
	ja := lang == "ja"
	pick := func(j, e string) string {
		if ja {
			return j
		}
		return e
	}
	switch t {
	case tabCameras:
		return []string{"H264", "10:29:59"}
	case tabRecordings:
		return []string{"H-2026-0001", pick("実績", "achieved"), pick("表示期間", "Window")}
	case tabStorage:
		return []string{"fsync", "cam08"}
	case tabRequests:
		return []string{"R-2026-0012"}
	case tabLedger:
		return []string{pick("申請の受付", "request regist"), pick("件を検証", "entries checked")}
	case tabKeys:
		return []string{"SHA256:scan", "ssh-rsa"}
	case tabUpkeep:
		return []string{"000 §4-3", pick("記録に欠けていること", "What the records lack")}
	}
	return nil
}

// screen runs the console under teatest: a real tea.Program with the
// fake backend and the fixed clock, switches to tab n, waits until every
// text in want is on screen, quits and returns the final frame.
func screen(t *testing.T, f *fakeBackend, role core.Role, lang string, w, h int, n int, want []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := New(testCommon(ctx, f, role, lang, w, h))
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(fmt.Sprint(n + 1))})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, s := range want {
			if !bytes.Contains(b, []byte(s)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).View()
}

// TestScreens: every tab in both languages at 80x24 and 160x48 against
// testdata/TestScreens/*.golden (go test ./tui/ -update regenerates).
func TestScreens(t *testing.T) {
	sizes := [][2]int{{80, 24}, {160, 48}}
	for _, lang := range []string{"ja", "en"} {
		for _, sz := range sizes {
			for n, tab := range tabsFor(core.RoleManager) {
				name := fmt.Sprintf("%s_%s_%dx%d", strings.TrimPrefix(tab.titleKey(), "tab."), lang, sz[0], sz[1])
				want := append(markers(tab, lang), map[string]string{"ja": "台帳: 正常", "en": "Ledger: intact"}[lang])
				t.Run(name, func(t *testing.T) {
					view := screen(t, newFake(8), core.RoleManager, lang, sz[0], sz[1], n, want)
					checkGeometry(t, view, sz[0], sz[1])
					golden.RequireEqual(t, []byte(view))
				})
			}
		}
	}
}

// TestScreensRoles: what an operator and a technician see.
func TestScreensRoles(t *testing.T) {
	cases := []struct {
		name string
		role core.Role
		tab  int
		want []string
	}{
		{"technician_storage", core.RoleTechnician, 0, []string{"fsync", "cam08"}},
		{"operator_cameras", core.RoleOperator, 0, []string{"H264", "10:29:59"}},
		{"operator_storage", core.RoleOperator, 2, []string{"fsync", "cam08"}},
		{"operator_ledger", core.RoleOperator, 4, []string{"申請の受付", "自分の記録"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			view := screen(t, newFake(8), c.role, "ja", 80, 24, c.tab, c.want)
			checkGeometry(t, view, 80, 24)
			golden.RequireEqual(t, []byte(view))
		})
	}
}

// checkGeometry: the frame is exactly h lines of exactly w cells, so
// columns line up whatever mix of kana, kanji and ASCII they hold.
func checkGeometry(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := width(l); got != w {
			t.Errorf("line %d is %d cells wide, want %d: %q", i, got, w, l)
		}
	}
}

// TestStorageAlerts: the ring's alerts lead the storage screen, in the
// session's language, within the frame.
func TestStorageAlerts(t *testing.T) {
	for _, lang := range []string{"ja", "en"} {
		f := newFake(8)
		f.stats.Ring.Alerts = []core.RingAlert{
			{Kind: "disk-stall", Since: testNow, Detail: "a disk operation has waited 5s"},
			{Kind: "camera-starved", Camera: "cam03", Since: testNow},
		}
		want := map[string][]string{"ja": {"警告", "ディスク応答なし", "記録領域のないカメラ cam03"},
			"en": {"ALERT", "disk not responding", "no ring block for camera cam03"}}[lang]
		view := screen(t, f, core.RoleTechnician, lang, 100, 24, 0, want)
		checkGeometry(t, view, 100, 24)
	}
}
