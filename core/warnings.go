package core

import (
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Warning is something the regulation expects that the records do not
// show: a city camera recording with no sign posted, no police
// consultation date, an overdue inspection, no custody record. The
// appliance cannot make these true; it says when they are not.
type Warning struct {
	Code    string // stable, for scripts: sign-missing, police-missing, ...
	Subject string // camera id, key name, site; "" for the appliance
	Clause  string // where the regulation asks for it, e.g. "000 §4-3"
	Text    Label
}

// Warning codes.
const (
	WarnSignMissing       = "sign-missing"
	WarnPoliceMissing     = "police-missing"
	WarnManagers          = "managers"
	WarnPersonIncomplete  = "person-incomplete"
	WarnInspectionDue     = "inspection-due"
	WarnInspectionOverdue = "inspection-overdue"
	WarnCustodyMissing    = "custody-missing"
	WarnCustodyKeyHolder  = "custody-key-holder"
	WarnLayoutMissing     = "layout-missing"
	WarnOrganization      = "organization-missing"
)

// ComplianceWarnings lists what the records lack under the policy
// (manager, operator, technician: the health screen's readers). People
// are named only to the manager; others get a count.
func (s *Store) ComplianceWarnings(actor Actor) ([]Warning, error) {
	scope, err := s.authorize(actor, ActionHealthRead, "")
	if err != nil {
		return nil, err
	}
	var out []Warning
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = s.warnings(tx, scope.OwnerOfAll)
		return err
	})
	return out, err
}

func (s *Store) warnings(tx *bolt.Tx, names bool) ([]Warning, error) {
	p := s.policy
	reg := p.Regulation
	var out []Warning
	if p.Issuer() == "" {
		out = append(out, Warning{Code: WarnOrganization, Clause: reg,
			Text: Label{"設置者（organization）が設定されていません。様式・表示板に名称が入りません",
				"no organization is configured: forms and signs name no one"}})
	}
	cams, err := listJSON[Camera](tx, bCameras)
	if err != nil {
		return nil, err
	}
	sort.Slice(cams, func(i, j int) bool { return cams[i].ID < cams[j].ID })
	if p.SignAndPoliceRequired {
		for _, c := range cams {
			if c.Status == CameraRemoved {
				continue
			}
			if !c.SignPosted {
				out = append(out, Warning{Code: WarnSignMissing, Subject: c.ID, Clause: reg + " §4-3",
					Text: Label{"カメラ " + c.ID + " は設置標識（様式第１号）が掲示されていないまま稼働しています",
						"camera " + c.ID + " records with no sign posted (form 1)"}})
			}
			if c.PoliceConsulted.IsZero() {
				out = append(out, Warning{Code: WarnPoliceMissing, Subject: c.ID, Clause: reg + " §4-2",
					Text: Label{"カメラ " + c.ID + " は管轄警察署長との協議日が記録されていません",
						"camera " + c.ID + " has no police consultation date"}})
			}
		}
	}

	keys, err := listJSON[Key](tx, bKeys)
	if err != nil {
		return nil, err
	}
	now := s.nowUTC()
	managers, incomplete := 0, []string{}
	var managerNames []string
	for _, k := range keys {
		if !k.Active(now) || k.Role == RoleViewer {
			continue
		}
		if k.Role == RoleManager {
			managers++
			managerNames = append(managerNames, k.Name)
		}
		if len(p.PersonGaps(k)) > 0 {
			incomplete = append(incomplete, k.Name)
		}
	}
	if p.MaxManagers > 0 && managers != p.MaxManagers {
		out = append(out, Warning{Code: WarnManagers, Clause: reg + " §5",
			Text: Label{fmt.Sprintf("有効な%sの鍵が %d 件あります（規定では %d 人）", p.Terms.Manager, managers, p.MaxManagers),
				fmt.Sprintf("%d active manager keys; the policy expects %d", managers, p.MaxManagers)}})
	}
	if len(incomplete) > 0 {
		sort.Strings(incomplete)
		who := fmt.Sprintf("%d", len(incomplete))
		if names {
			who = strings.Join(incomplete, "、")
		}
		out = append(out, Warning{Code: WarnPersonIncomplete, Clause: reg + " " + p.Pledge.Cite,
			Text: Label{"職名・所属・守秘義務の誓約が未記録の鍵: " + who,
				"keys without job title, section or confidentiality pledge: " + who}})
	}

	sched, err := s.inspectionSchedule(tx)
	if err != nil {
		return nil, err
	}
	for _, d := range sched {
		date := d.Due.In(jstZone).Format("2006-01-02")
		switch d.State {
		case InspectionOverdue:
			out = append(out, Warning{Code: WarnInspectionOverdue, Subject: d.Camera, Clause: inspectionClause(p),
				Text: Label{"カメラ " + d.Camera + " の定期点検が期限（" + date + "）を過ぎています",
					"camera " + d.Camera + " inspection overdue since " + date}})
		case InspectionDueSoonState:
			out = append(out, Warning{Code: WarnInspectionDue, Subject: d.Camera, Clause: inspectionClause(p),
				Text: Label{"カメラ " + d.Camera + " の定期点検の期限が近づいています（" + date + "）",
					"camera " + d.Camera + " inspection due " + date}})
		}
	}

	cust, ok := latestCustody(tx)
	custodyClause := reg + " §7-3"
	if reg == "001" {
		custodyClause = "001 §5-1"
	}
	switch {
	case !ok:
		out = append(out, Warning{Code: WarnCustodyMissing, Clause: custodyClause,
			Text: Label{"録画装置の保管場所・保管庫・鍵の管理者が記録されていません", "no custody record (where the recorder is kept, cabinet, key holder)"}})
	case reg == "000" && managers > 0 && !contains(managerNames, cust.KeyHolder):
		out = append(out, Warning{Code: WarnCustodyKeyHolder, Clause: custodyClause,
			Text: Label{"保管庫の鍵の管理者（" + cust.KeyHolder + "）が" + p.Terms.Manager + "ではありません",
				"the cabinet key holder (" + cust.KeyHolder + ") is not the manager"}})
	}

	if p.LayoutPlanRequired {
		plans, err := listJSON[LayoutPlan](tx, bLayouts)
		if err != nil {
			return nil, err
		}
		shown, whole := map[string]bool{}, false
		for _, pl := range plans {
			whole = whole || len(pl.Cameras) == 0 // a plan listing no cameras covers the site
			for _, c := range pl.Cameras {
				shown[c] = true
			}
		}
		var missing []string
		for _, c := range cams {
			if c.Status != CameraRemoved && !whole && !shown[c.ID] {
				missing = append(missing, c.ID)
			}
		}
		if len(missing) > 0 {
			out = append(out, Warning{Code: WarnLayoutMissing, Clause: "001 §2-1",
				Text: Label{"配置図に記載のないカメラ: " + strings.Join(missing, ", "),
					"cameras on no layout plan: " + strings.Join(missing, ", ")}})
		}
	}
	return out, nil
}

func inspectionClause(p Policy) string {
	if p.Regulation == "001" {
		return "001 §8-1"
	}
	return p.Regulation + " §7-5"
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// jstZone prints dates in warnings as the regulation's readers count them.
var jstZone = time.FixedZone("JST", 9*60*60)
