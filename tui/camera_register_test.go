package tui

import (
	"strings"
	"testing"
	"time"

	"mimamori/core"
)

// The manager records a sign posted (form 1, 000 §4-3) and the police
// consultation date (000 §4-2) from the Cameras tab: the register and
// the ledger show them, and the city's warnings for that camera go.
func TestCamerasTabRecordsSignAndPolice(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	if w := rc.warningCodes("cam2"); !contains(w, core.WarnSignMissing) || !contains(w, core.WarnPoliceMissing) {
		t.Fatalf("cam2 warnings %v", w)
	}
	u := rc.console(rc.manager, "ja", 120, 32, nil)
	shows(t, u, "[000 §4-3] カメラ cam2 は設置標識")
	cursorTo(t, u, "公園")

	keys(u, "s")
	shows(t, u, "カメラ cam2 の設置標識（様式第１号）", "< 表示板掲示 >") // the kind defaults to what is missing
	keys(u, "tab")
	typeText(u, "四街道看板店")
	keys(u, "tab", "tab", "北側支柱に掲示", "ctrl+s")
	shows(t, u, "cam2 の標識を記録しました。")

	today := time.Now().In(testLoc).Format("2006-01-02")
	keys(u, "c")
	shows(t, u, "カメラ cam2 の警察署長との協議", "000 §4-2")
	typeText(u, today)
	keys(u, "ctrl+s")
	shows(t, u, "cam2 の警察協議を記録しました。", "警察協議: "+today)

	// A date in the future is refused by core, next to the field.
	keys(u, "c")
	typeText(u, time.Now().In(testLoc).Add(72*time.Hour).Format("2006-01-02"))
	keys(u, "ctrl+s")
	shows(t, u, "! 20", "is outside")
	keys(u, "esc")

	c := rc.camera("cam2")
	if !c.SignPosted || c.SignChangedAt.IsZero() || c.PoliceConsulted.In(testLoc).Format("2006-01-02") != today {
		t.Fatalf("register %+v", c)
	}
	if c.URL != "rtsp://127.0.0.1:1/cam2" {
		t.Fatalf("the police record changed the stream URL to %q", c.URL)
	}
	var sign core.Entry
	for _, e := range rc.entries(core.ActionMaintenance) {
		if e.Details["kind"] == core.MaintSignPosted && e.Details["camera"] == "cam2" {
			sign = e
		}
	}
	if sign.Actor.Name != "山田 太郎" || sign.Details["performer"] != "四街道看板店" || sign.Details["notes"] != "北側支柱に掲示" {
		t.Fatalf("sign entry %+v", sign)
	}
	var police bool
	for _, e := range rc.entries(core.ActionCameraUpdate) {
		if e.Subject == "cam2" && strings.Contains(e.Details["police_consulted"], today[:4]) {
			police = true
		}
	}
	if !police {
		t.Errorf("no camera.update entry with the police date: %+v", rc.entries(core.ActionCameraUpdate))
	}
	if w := rc.warningCodes("cam2"); contains(w, core.WarnSignMissing) || contains(w, core.WarnPoliceMissing) {
		t.Errorf("cam2 warnings left %v", w)
	}
	if strings.Contains(u.View(), "カメラ cam2 は設置標識") {
		t.Errorf("the console still shows cam2's sign warning:\n%s", u.View())
	}

	// Taking the sign down is the same form the other way round; a date
	// in the future is refused next to the field, nothing recorded.
	keys(u, "s")
	shows(t, u, "< 表示板撤去 >")
	keys(u, "tab", "tab")
	typeText(u, time.Now().In(testLoc).Add(72*time.Hour).Format("2006-01-02 15:04"))
	before := len(rc.entries(core.ActionMaintenance))
	keys(u, "ctrl+s")
	shows(t, u, "! 20", "is outside")
	if n := len(rc.entries(core.ActionMaintenance)); n != before {
		t.Fatalf("a future sign removal was recorded")
	}
	keys(u, "esc")
	if !rc.camera("cam2").SignPosted {
		t.Fatal("the cancelled removal took the sign down")
	}
}

// An operator sees the register but is offered none of its records.
func TestCamerasTabOffersRecordsByPermission(t *testing.T) {
	rc := newRealCore(t, core.CityStandard())
	op := rc.enrol("佐藤 花子", core.RoleOperator, true)
	u := rc.console(op, "en", 160, 30, nil)
	keys(u, "s", "c", "x")
	if u.page().Capturing() {
		t.Fatalf("an operator opened a register form:\n%s", u.View())
	}
	mgr := rc.console(rc.manager, "en", 160, 30, nil)
	shows(t, mgr, "s sign", "c police", "x remove camera")
}
