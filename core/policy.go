package core

import (
	"fmt"
	"strings"
	"time"
)

// Policy is a regulation expressed as configuration ("policy profile"):
// the numbers (retention, extension limits), the words (what an operator
// is called, which grounds allow provision, what the forms cite) and the
// checks the regulation asks for. A third regulation is a third profile.
type Policy struct {
	Name                 string
	RetentionDays        float64 // footage older than this is erased even if space remains
	Overwrite            bool    // oldest footage is overwritten when the ring is full
	ExtensionNeedsReason bool    // a hold must carry a reason
	MaxExtensionDays     int     // how far ahead a hold may end; 0 = no limit
	LiveViewAllowed      bool
	ViewerGrantsAllowed  bool          // temporary viewers with the manager's consent (001 §4)
	ProvisionalHoldGrace time.Duration // how long a provisional hold outlives a denied/closed request
	ProvisionalHoldDays  int           // how long a request's provisional hold lasts at most
	HoldShare            float64       // share of ring capacity holds may use (0..1)
	// OperatorViewsOnInstruction: operators view recorded footage only for
	// a request whose search the manager instructed to them (000 §9-2).
	OperatorViewsOnInstruction bool
	// OperatorCopiesOnInstruction: an operator exports and fetches a
	// request's package only when the search was instructed to them (000
	// §9-4: 取扱担当者は、管理責任者の指示に基づき…複写する); managers
	// always may. Without it any operator may once the copy is approved
	// (001 §5-2: the manager's prior approval is what a copy needs).
	OperatorCopiesOnInstruction bool

	// Regulation names the text the profile implements ("000", "001")
	// and its title, as forms and docs/compliance.md cite it.
	Regulation      string
	RegulationTitle string
	Terms           Terms
	// Organization is the city or company that runs the cameras (config
	// "organization"): it names the forms and the sign.
	Organization Organization
	// Purposes are form 2's purposes (codes arrest, investigation, other).
	Purposes []Choice
	// Grounds on which footage may be provided or used beyond its purpose
	// (000 §8, 001 §6); a request must name one of these codes.
	Grounds []Ground
	// Judgement is what the manager must state when approving: the
	// regulation's test for provision (000 §8: no undue infringement of
	// anyone's rights; 001 §6: necessity judged against the purpose).
	Judgement Choice
	// Pledge is the confidentiality pledge every person accepts at
	// enrolment (000 §11, 001 §3(5)).
	Pledge Pledge
	// MaxManagers is how many active manager keys may exist; 0 = any.
	// 000 §5-2 makes the head of the responsible section the one manager.
	MaxManagers int
	// InspectionIntervalDays is the periodic inspection schedule (001
	// §8-1; for 000 the site's own choice under §7-5); 0 = no schedule.
	InspectionIntervalDays int
	// SignAndPoliceRequired: a camera recording without a posted sign
	// (000 §4-3, form 1) or a police consultation date (000 §4-2) is a
	// warning in the console and in health.
	SignAndPoliceRequired bool
	// LayoutPlanRequired: each site keeps a layout plan (001 §2-1 配置図).
	LayoutPlanRequired bool
	// Forms are the printed documents and what they cite.
	Forms Forms
}

// Terms are the regulation's own words for the roles.
type Terms struct {
	Manager    string // 管理責任者
	Operator   string // 取扱担当者 (000) / 操作担当者 (001)
	Technician string
	Viewer     string
}

// Organization is whoever runs the cameras.
type Organization struct {
	Name    string // 四街道市, ○○株式会社
	Section string // the responsible section (所属), e.g. 危機管理室
	// Addressee is who form 2 is addressed to (四街道市長); empty gives
	// the profile's default ("<Name>長" for a city).
	Addressee string
}

// Choice is one coded option with its printed (Japanese) and English
// label and where the regulation says it.
type Choice struct {
	Code string
	Ja   string
	En   string
	Cite string // e.g. 第８条第２号
}

// Ground is a legal ground for provision.
type Ground struct {
	Choice
	NeedsNote    bool // the circumstances must be written down
	NeedsConsent bool // the consent of the person shown must be recorded
}

// Pledge is the confidentiality undertaking and its version; the version
// is recorded with each acceptance so a later wording change is visible.
type Pledge struct {
	Version string
	Cite    string
	Text    string
}

// Forms are the printed documents of a profile.
type Forms struct {
	Sign        FormSpec // form 1: the sign posted near a camera
	Application FormSpec // form 2: the written application
	SearchBook  FormSpec // form 3: the search (and provision) record
	// Addressee is form 2's addressee when the organization names none;
	// "%s" is replaced by the organization's name.
	Addressee string
	// Lead is form 2's sentence; "%s" is replaced by the organization.
	Lead string
}

// FormSpec is one form: its number and article (printed top left) and
// title. PrefixOrg prints the organization before the title, as the city
// forms do (四街道市防犯カメラ…).
type FormSpec struct {
	Cite      string
	Title     string
	PrefixOrg bool
}

// CityStandard follows seed 000 (Yotsukaido city standard): about one week,
// erased by overwriting, no viewers besides manager and operators.
func CityStandard() Policy {
	return Policy{
		Name:                 "city-standard",
		RetentionDays:        7,
		Overwrite:            true,
		ExtensionNeedsReason: true,
		MaxExtensionDays:     90,
		LiveViewAllowed:      true,
		ViewerGrantsAllowed:  false,
		ProvisionalHoldGrace: 24 * time.Hour,
		ProvisionalHoldDays:  60,
		HoldShare:            0.25,

		OperatorViewsOnInstruction:  true,
		OperatorCopiesOnInstruction: true,
		Regulation:                  "000",
		RegulationTitle:             "防犯カメラの設置及び運用に関する基準",
		Terms:                       Terms{Manager: "管理責任者", Operator: "取扱担当者", Technician: "保守技術者", Viewer: "一時閲覧者"},
		Organization:                Organization{Name: "四街道市"},
		Purposes: []Choice{
			{Code: "arrest", Ja: "犯人検挙のため", En: "arrest of an offender"},
			{Code: "investigation", Ja: "事後捜査のため", En: "investigation after the fact"},
			{Code: "other", Ja: "その他", En: "other"},
		},
		Grounds: []Ground{
			{Choice: Choice{Code: "law", Ja: "法令等（条例を含む。）に基づく場合", En: "required by law or ordinance", Cite: "第８条本文"}},
			{Choice: Choice{Code: "consent", Ja: "画像から識別される特定の個人の同意がある場合又は本人に提供する場合",
				En: "consent of the person shown, or provision to that person", Cite: "第８条第１号"}, NeedsConsent: true},
			{Choice: Choice{Code: "life", Ja: "市民等の生命、身体又は財産の安全を守るため必要と認める場合",
				En: "to protect the life, body or property of residents", Cite: "第８条第２号"}},
			{Choice: Choice{Code: "internal", Ja: "実施機関が事務の遂行に必要な限度で内部で利用する場合であって相当の理由がある場合",
				En: "internal use within the city's duties, with good reason", Cite: "第８条第３号"}, NeedsNote: true},
			{Choice: Choice{Code: "ordinance", Ja: "その他条例に基づく基準に適合すると認められる場合",
				En: "other cases meeting the ordinance's standard", Cite: "第８条第４号"}, NeedsNote: true},
		},
		Judgement: Choice{Code: "undue-infringement",
			Ja:   "本人又は第三者の権利利益を不当に侵害するおそれがないと認めた理由",
			En:   "why providing this does not unduly infringe the rights and interests of the person or a third party",
			Cite: "第８条"},
		Pledge: Pledge{Version: "000-11/1", Cite: "第１１条",
			Text: "防犯カメラ及び画像データの取扱いにより知り得た情報を漏らしません。この義務は、取扱いの職を離れた後も同様とします。"},
		MaxManagers:            1,
		InspectionIntervalDays: 365,
		SignAndPoliceRequired:  true,
		Forms: Forms{
			Sign:        FormSpec{Cite: "様式第１号（第４条第３項）", Title: "防犯カメラ設置標識", PrefixOrg: true},
			Application: FormSpec{Cite: "様式第２号（第９条第１項）", Title: "防犯カメラ画像データ利用申請書", PrefixOrg: true},
			SearchBook:  FormSpec{Cite: "様式第３号（第９条第４項）", Title: "防犯カメラ画像データ検索簿", PrefixOrg: true},
			Addressee:   "%s長",
			Lead:        "%sが設置する防犯カメラの画像データの利用について、次のとおり申請します。",
		},
	}
}

// CompanyTemplate follows seed 001 (company community cameras): one month,
// extension only with a recorded reason, temporary viewers with consent.
func CompanyTemplate() Policy {
	return Policy{
		Name:                 "company-template",
		RetentionDays:        30,
		Overwrite:            true,
		ExtensionNeedsReason: true,
		MaxExtensionDays:     180,
		LiveViewAllowed:      true,
		ViewerGrantsAllowed:  true,
		ProvisionalHoldGrace: 24 * time.Hour,
		ProvisionalHoldDays:  90,
		HoldShare:            0.25,

		Regulation:      "001",
		RegulationTitle: "地域貢献防犯カメラ管理運用規定",
		Terms:           Terms{Manager: "管理責任者", Operator: "操作担当者", Technician: "保守技術者", Viewer: "一時閲覧者"},
		Organization:    Organization{}, // config "organization": the company's name
		Purposes: []Choice{
			{Code: "arrest", Ja: "犯人検挙のため", En: "arrest of an offender"},
			{Code: "investigation", Ja: "犯罪や事故の捜査のため", En: "investigation of a crime or accident"},
			{Code: "other", Ja: "その他", En: "other"},
		},
		Grounds: []Ground{
			{Choice: Choice{Code: "law", Ja: "法令に基づく場合", En: "required by law", Cite: "６(1)"}},
			{Choice: Choice{Code: "investigation", Ja: "捜査機関から犯罪や事故の捜査の目的で提供の要請を受けた場合",
				En: "request of an investigating authority for a crime or accident", Cite: "６(2)"}},
			{Choice: Choice{Code: "life", Ja: "個人の生命や身体、財産の安全を守るため、緊急かつやむを得ない場合",
				En: "urgent and unavoidable, to protect someone's life, body or property", Cite: "６(3)"}},
			{Choice: Choice{Code: "other", Ja: "その他、設置目的に照らして必要と考えられる場合（個人を判別できる画像は本人の同意が必要）",
				En: "other need in light of the purpose (identifiable images need the person's consent)", Cite: "６(4)"},
				NeedsNote: true, NeedsConsent: true},
		},
		Judgement: Choice{Code: "necessity",
			Ja:   "設置・運用目的に照らして提供が必要と判断した理由",
			En:   "why provision is necessary in light of the cameras' purpose",
			Cite: "６"},
		Pledge: Pledge{Version: "001-3-5/1", Cite: "３(5)",
			Text: "防犯カメラの画像と画像から知り得た情報をむやみに人に漏らさず、不当な目的のために使用しません。管理責任者等でなくなった後においても同様とします。"},
		MaxManagers:            0,
		InspectionIntervalDays: 180,
		LayoutPlanRequired:     true,
		Forms: Forms{
			Sign:        FormSpec{Cite: "表示板（管理運用規定 ２(2)）", Title: "防犯カメラ作動中"},
			Application: FormSpec{Cite: "提供要請書（管理運用規定 ６ ウ）", Title: "防犯カメラ画像提供要請書"},
			SearchBook:  FormSpec{Cite: "検索・提供記録簿（管理運用規定 ５(2)・６ イ）", Title: "防犯カメラ画像検索・提供記録簿"},
			Addressee:   "%s　管理責任者",
			Lead:        "%sが設置する防犯カメラの画像の提供について、次のとおり要請します。",
		},
	}
}

// PolicyByName returns a built-in profile: "city-standard" (alias "000",
// "city") or "company-template" (alias "001", "company").
func PolicyByName(name string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "city-standard", "city", "000", "":
		return CityStandard(), nil
	case "company-template", "company", "001":
		return CompanyTemplate(), nil
	}
	return Policy{}, Invalid("policy", fmt.Sprintf("unknown profile %q (city-standard, company-template)", name))
}

// Retention is RetentionDays as a duration.
func (p Policy) Retention() time.Duration {
	return time.Duration(p.RetentionDays * float64(24*time.Hour))
}

// GroundCodes lists the profile's ground codes, in order.
func (p Policy) GroundCodes() []string {
	out := make([]string, len(p.Grounds))
	for i, g := range p.Grounds {
		out[i] = g.Code
	}
	return out
}

// Ground returns the profile's ground with this code.
func (p Policy) Ground(code string) (Ground, bool) {
	for _, g := range p.Grounds {
		if g.Code == code {
			return g, true
		}
	}
	return Ground{}, false
}

// PurposeLabel is the printed label of a purpose code (the code itself if
// the profile does not know it).
func (p Policy) PurposeLabel(code, lang string) string {
	for _, c := range p.Purposes {
		if c.Code == code {
			return c.Text(lang)
		}
	}
	return code
}

// GroundLabel is the label of a ground code, with its article.
func (p Policy) GroundLabel(code, lang string) string {
	g, ok := p.Ground(code)
	if !ok {
		return code
	}
	if g.Cite != "" {
		return g.Text(lang) + "（" + g.Cite + "）"
	}
	return g.Text(lang)
}

func (c Choice) Text(lang string) string {
	if lang == "en" && c.En != "" {
		return c.En
	}
	return c.Ja
}

// RoleTerm is the regulation's word for a role (操作担当者 under 001).
func (p Policy) RoleTerm(r Role) string {
	switch r {
	case RoleManager:
		return p.Terms.Manager
	case RoleOperator:
		return p.Terms.Operator
	case RoleTechnician:
		return p.Terms.Technician
	case RoleViewer:
		return p.Terms.Viewer
	}
	return r.String()
}

// Issuer is the organization's name as forms print it.
func (p Policy) Issuer() string { return strings.TrimSpace(p.Organization.Name) }

// FormTitle is a form's title, with the organization before it when the
// profile's forms carry it (四街道市防犯カメラ画像データ利用申請書).
func (p Policy) FormTitle(f FormSpec) string {
	if f.PrefixOrg {
		return p.Issuer() + f.Title
	}
	return f.Title
}

// Addressee is who form 2 is addressed to.
func (p Policy) Addressee() string {
	if a := strings.TrimSpace(p.Organization.Addressee); a != "" {
		return a
	}
	if p.Forms.Addressee == "" || p.Issuer() == "" {
		return ""
	}
	return fmt.Sprintf(p.Forms.Addressee, p.Issuer())
}

// Lead is form 2's opening sentence.
func (p Policy) Lead() string {
	org := p.Issuer()
	if org == "" {
		org = "貴職"
	}
	return fmt.Sprintf(p.Forms.Lead, org)
}
