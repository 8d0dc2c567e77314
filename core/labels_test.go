package core

import (
	"strings"
	"testing"
)

// Decision 7: every action a ledger entry can carry has a Japanese and
// an English label, so the console, the CSV and the forms never show a
// bare code.
func TestEveryActionHasLabels(t *testing.T) {
	all := AllActions()
	for _, a := range []Action{ActionDenied, ActionRequestExportFailed, ActionLogin} {
		found := false
		for _, b := range all {
			found = found || a == b
		}
		if !found {
			t.Errorf("AllActions lacks %s", a)
		}
	}
	for _, a := range all {
		l, ok := actionLabels[a]
		if !ok || l.Ja == "" || l.En == "" {
			t.Errorf("action %s has no Japanese and English label", a)
			continue
		}
		if ActionLabel(a, "ja") == string(a) || !hasJapanese(l.Ja) {
			t.Errorf("action %s: Japanese label %q", a, l.Ja)
		}
	}
	for a := range actionLabels {
		if _, inTable := permissions[a]; !inTable && !contains(ledgerOnlyStrings(), string(a)) {
			t.Errorf("label for %s, which is no action", a)
		}
	}
}

func ledgerOnlyStrings() []string {
	var out []string
	for _, a := range ledgerOnlyActions {
		out = append(out, string(a))
	}
	return out
}

// States, outcomes, automatic reasons: the codes people see have labels
// in both languages.
func TestCodesHaveLabels(t *testing.T) {
	for _, st := range []RequestState{StateRegistered, StateInstructed, StateSearched, StateApproved, StateDenied,
		StateExported, StateProvided, StateClosed} {
		if StateLabel(st, "ja") == string(st) || StateLabel(st, "en") == "" {
			t.Errorf("state %s unlabelled", st)
		}
	}
	for kind, codes := range map[string][]string{
		"outcome":       {"found", "not-found", "other"},
		"hold-kind":     {HoldExtension, HoldProvisional},
		"camera-status": {CameraActive, CameraMaintenance, CameraRemoved},
		"ingest-state":  {"connecting", "recording", "stalled", "error", "stopped", "stream-invalid"},
		"maintenance":   append(append([]string{}, MaintenanceKinds...), MaintDisposal),
		"reason":        {ReasonProvisional, ReasonHoldLapse},
		"erasure":       {"retention", "overwrite"},
	} {
		for _, c := range codes {
			if ja := CodeLabel(kind, c, "ja"); ja == c || !hasJapanese(ja) || CodeLabel(kind, c, "en") == "" {
				t.Errorf("%s %s: label %q", kind, c, ja)
			}
		}
	}
	h := Hold{Kind: HoldProvisional, RequestID: "R-2026-0001", Reason: ReasonProvisional}
	if got := HoldReason(h, "ja"); !strings.Contains(got, "R-2026-0001") || !hasJapanese(got) {
		t.Errorf("provisional hold reason in Japanese: %q", got)
	}
	if got := HoldReason(h, "en"); got != "provisional hold for request R-2026-0001" {
		t.Errorf("provisional hold reason in English: %q", got)
	}
}

// Each profile speaks its regulation's words: 取扱担当者 (000 §6) and
// 操作担当者 (001 §3), its own grounds, its own form citations.
func TestProfilesCarryRegulationWords(t *testing.T) {
	city, company := CityStandard(), CompanyTemplate()
	if city.RoleTerm(RoleOperator) != "取扱担当者" || company.RoleTerm(RoleOperator) != "操作担当者" {
		t.Errorf("operator terms %q / %q", city.RoleTerm(RoleOperator), company.RoleTerm(RoleOperator))
	}
	if strings.Join(city.GroundCodes(), ",") != "law,consent,life,internal,ordinance" ||
		strings.Join(company.GroundCodes(), ",") != "law,investigation,life,other" {
		t.Errorf("grounds %v / %v", city.GroundCodes(), company.GroundCodes())
	}
	if city.Forms.Application.Cite != "様式第２号（第９条第１項）" || city.Forms.SearchBook.Cite != "様式第３号（第９条第４項）" ||
		city.Forms.Sign.Cite != "様式第１号（第４条第３項）" {
		t.Error("city forms cite 000's articles")
	}
	for _, f := range []FormSpec{company.Forms.Application, company.Forms.SearchBook, company.Forms.Sign} {
		if !strings.Contains(f.Cite, "管理運用規定") || strings.Contains(f.Cite, "様式第") {
			t.Errorf("company form cites %q", f.Cite)
		}
	}
	city.Organization = Organization{Name: "千葉市"}
	if city.FormTitle(city.Forms.Application) != "千葉市防犯カメラ画像データ利用申請書" || city.Addressee() != "千葉市長" {
		t.Errorf("issuer from the organization: %q %q", city.FormTitle(city.Forms.Application), city.Addressee())
	}
	// 000 §7-1: about one week, erased by overwriting; 001 §5-3: one month.
	if city.RetentionDays != 7 || !city.Overwrite || company.RetentionDays != 30 || !company.ExtensionNeedsReason {
		t.Error("retention of the profiles")
	}
	if city.MaxManagers != 1 || company.MaxManagers != 0 || company.InspectionIntervalDays <= 0 {
		t.Error("manager count or inspection schedule")
	}
}

func hasJapanese(s string) bool {
	for _, r := range s {
		if r >= 0x3040 && r <= 0x9fff {
			return true
		}
	}
	return false
}
