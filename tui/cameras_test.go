package tui

import (
	"strings"
	"testing"

	"mimamori/core"
)

// The manager removes a camera from the Cameras tab (001 §8-2): a reason,
// a confirmation, then core. Nobody else is offered the action.
func TestManagerRemovesCamera(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "en", 80, 24)
	press(u, "1", "x")
	if v := u.View(); !strings.Contains(v, "Remove camera cam01") {
		t.Fatalf("no removal dialog:\n%s", v)
	}
	for _, r := range "pole taken down" {
		press(u, string(r))
	}
	press(u, "enter")
	if got := f.called("RemoveCamera"); len(got) != 0 {
		t.Fatalf("removed before confirming: %q", got)
	}
	press(u, "y")
	if got := f.called("RemoveCamera"); len(got) != 1 || got[0] != "RemoveCamera manager cam01 reason=pole taken down" {
		t.Fatalf("calls %q", got)
	}
	if v := u.View(); !strings.Contains(v, "Removed camera cam01; recording stopped.") {
		t.Errorf("no confirmation:\n%s", v)
	}

	op := syncUI(t, f, core.RoleOperator, "en", 80, 24)
	press(op, "1", "x", "y")
	if got := f.called("RemoveCamera operator"); len(got) != 0 {
		t.Fatalf("operator removed a camera: %q", got)
	}
}

// The Cameras tab lists what the regulation expects and the records lack;
// the Storage tab shows each camera's next inspection, overdue marked.
func TestWarningsAndInspectionsShown(t *testing.T) {
	f := newFake(4)
	u := syncUI(t, f, core.RoleManager, "ja", 120, 30)
	if v := u.View(); !strings.Contains(v, "規定上の確認事項 (2件)") || !strings.Contains(v, "[000 §4-3]") {
		t.Errorf("cameras tab lacks the warnings:\n%s", v)
	}
	tech := syncUI(t, f, core.RoleTechnician, "ja", 120, 30)
	if v := tech.View(); !strings.Contains(v, "定期点検") || !strings.Contains(v, "期限超過") || !strings.Contains(v, "期限間近") {
		t.Errorf("storage tab lacks the inspection schedule:\n%s", v)
	}
}
