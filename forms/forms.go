// Package forms renders the regulation's paper forms from core's records:
// form 1 (the sign posted near a camera), form 2 (the written application
// as registered) and form 3 (the search record of a request), as
// self-contained printable HTML (no scripts, no external resources).
//
// What a form says comes from the policy profile: its number and article
// (様式第２号（第９条第１項） under 000, the 001 clause under the company
// template), its title, the issuer (config "organization"), the words for
// the roles (取扱担当者 / 操作担当者) and the purposes and grounds. Official
// forms print in Japanese only; English stays in the console.
package forms

import (
	"fmt"
	"io"
	"strings"
	"time"

	"mimamori/core"
)

// Document is what forms 2 and 3 are rendered from.
type Document struct {
	Request core.Request
	// Cameras of the register by id; a camera missing here (not readable
	// by the caller) prints its id only.
	Cameras map[string]core.Camera
	// Policy gives the form's number, title, issuer and terms.
	Policy core.Policy
	// Location is the zone times are printed in (default JST).
	Location *time.Location
	// Printed is when this copy is printed (the footer). Form 3's 作成日
	// is the date the form was first issued (Request.FormsIssued), and
	// Printed only when it was never recorded.
	Printed time.Time
	// Checkpoint and ApplianceKey anchor the printed form in the ledger:
	// the footer gives the checkpoint's tree size and short root hash and
	// the appliance key's fingerprint (issue 10: anchors that leave the box).
	Checkpoint   *core.Checkpoint
	ApplianceKey string
}

// SignDocument is what form 1 is rendered from: one sign per camera.
type SignDocument struct {
	Cameras []core.Camera
	Policy  core.Policy
}

// Form2 writes the application (様式第２号 under 000) for d.Request.
func Form2(w io.Writer, d Document) error { return execute(w, "form2", buildForm2(d)) }

// Form3 writes the search record (様式第３号 under 000) for d.Request.
func Form3(w io.Writer, d Document) error { return execute(w, "form3", buildForm3(d)) }

// Form1 writes the sign (様式第１号 under 000), one page per camera.
func Form1(w io.Writer, d SignDocument) error {
	if len(d.Cameras) == 0 {
		return fmt.Errorf("%w: form 1 needs at least one camera", core.ErrInvalid)
	}
	return execute(w, "form1", buildForm1(d))
}

// execute renders and passes the page through core's sanitiser: the
// template escapes markup, CleanText makes visible what a record written
// by an older release may hold (bidi overrides, escapes).
func execute(w io.Writer, name string, v any) error {
	var b strings.Builder
	if err := tmpl.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	_, err := io.WriteString(w, core.CleanText(b.String(), 0))
	return err
}

// Render writes form n (2 or 3) of a request.
func Render(w io.Writer, n int, d Document) error {
	switch n {
	case 2:
		return Form2(w, d)
	case 3:
		return Form3(w, d)
	}
	return fmt.Errorf("%w: form %d (forms 2 and 3 belong to a request; form 1 is a camera's sign)", core.ErrInvalid, n)
}

// Views: strings only, so the templates hold layout and no logic.

type choice struct {
	Checked bool
	Label   string
	Other   bool   // "その他": prints （理由　…　）
	Extra   string // its reason
}

type cameraRow struct {
	ID, Number, Name, Location, Direction string
}

// line is one labelled entry; Ranges, when set, are printed one per line
// under the label instead of Value.
type line struct {
	Label, Value string
	Ranges       []rangeLine
}

// rangeLine is one found or approved range: the camera, then the range
// as one unbreakable piece ("…から…まで"), so a printed time is never
// split across lines: a line breaks only between the camera and its
// range, or between ranges.
type rangeLine struct{ Camera, Range string }

type step struct{ N, At, State, By, Note string }

type common struct {
	Title, FormNo, RequestID string
	PrintedISO               string
	Purposes                 []choice
	From, To                 string
	Cameras                  []cameraRow
	Notes                    string
	Extra                    []line
	Anchor                   string // ledger checkpoint and appliance key, for the footer
}

type form2View struct {
	common
	Date                                            string
	Addressee                                       string
	Address, Agency, Representative, Contact, Phone string
	Lead                                            string
	RegisteredBy                                    string
}

type form3View struct {
	common
	Created                              string
	ManagerTerm, OperatorTerm            string
	ManagerTitle, Manager                string
	OperatorTitle, Operator              string
	InstructedAt                         string
	ResultFound, ResultNone, ResultOther bool
	ResultNote                           string
	Found                                []rangeLine // per camera: where footage was found
	ResultBy                             string
	Steps                                []step
}

type signView struct {
	FormNo, Title, Issuer string
	Signs                 []signPage
}

type signPage struct {
	Number, ID, Location string
}

func (d Document) policy() core.Policy {
	if d.Policy.Regulation == "" {
		return core.CityStandard()
	}
	return d.Policy
}

func buildCommon(d Document, spec core.FormSpec) common {
	r, loc, p := d.Request, d.loc(), d.policy()
	c := common{
		Title: p.FormTitle(spec), FormNo: spec.Cite, RequestID: r.ID,
		PrintedISO: isoTime(d.Printed, loc),
		From:       jaDateTime(r.From, loc), To: jaDateTime(r.To, loc),
		Notes: r.Notes, Anchor: anchorLine(d.Checkpoint, d.ApplianceKey),
	}
	for _, pc := range p.Purposes {
		ch := choice{Checked: r.Purpose == pc.Code, Label: pc.Ja, Other: pc.Code == "other"}
		if ch.Other && ch.Checked {
			ch.Extra = r.PurposeReason
		}
		c.Purposes = append(c.Purposes, ch)
	}
	for _, id := range r.Cameras {
		c.Cameras = append(c.Cameras, d.camera(id))
	}
	ground := p.GroundLabel(r.Ground, "ja")
	if r.GroundNote != "" {
		ground += "：" + r.GroundNote
	}
	c.Extra = append(c.Extra, line{Label: "提供の根拠", Value: ground})
	if r.Consent != "" {
		c.Extra = append(c.Extra, line{Label: "本人の同意", Value: r.Consent})
	}
	if r.WrittenRef != "" {
		c.Extra = append(c.Extra, line{Label: "申請文書番号", Value: r.WrittenRef})
	}
	return c
}

func (d Document) camera(id string) cameraRow {
	row := cameraRow{ID: id}
	if cam, ok := d.Cameras[id]; ok {
		row.Number, row.Name, row.Location, row.Direction = cam.Number, cam.Name, cam.Location, cam.Direction
	}
	return row
}

// rangeLine is a found or approved range as printed: camera, then
// "FROMからTOまで" to the second.
func (d Document) rangeLine(g core.FoundRange, loc *time.Location) rangeLine {
	return rangeLine{Camera: d.cameraName(g.Camera), Range: jaDateTimeSec(g.From, loc) + "から" + jaDateTimeSec(g.To, loc) + "まで"}
}

// cameraName is "カメラ1（cam1）" for a found-range line.
func (d Document) cameraName(id string) string {
	if cam, ok := d.Cameras[id]; ok && cam.Number != "" {
		return "カメラ" + cam.Number + "（" + id + "）"
	}
	return id
}

// person is "氏名（職名）" of a history step, as its key said then.
func person(t core.Transition) string {
	if t.JobTitle != "" {
		return t.By + "（" + t.JobTitle + "）"
	}
	return t.By
}

// personWithSection is "氏名（職名・所属）".
func personWithSection(t core.Transition) string {
	switch {
	case t.JobTitle != "" && t.Section != "":
		return t.By + "（" + t.JobTitle + "・" + t.Section + "）"
	case t.JobTitle != "":
		return t.By + "（" + t.JobTitle + "）"
	}
	return t.By
}

func buildForm2(d Document) form2View {
	r, loc, p := d.Request, d.loc(), d.policy()
	v := form2View{
		common: buildCommon(d, p.Forms.Application),
		Date:   jaDate(r.ReceivedAt, loc), Addressee: p.Addressee(), Address: r.ApplicantAddress, Agency: r.Agency,
		Representative: r.Representative, Contact: r.ContactPerson, Phone: r.Phone, Lead: p.Lead(),
	}
	for _, t := range r.History {
		if t.State == core.StateRegistered {
			v.RegisteredBy = person(t) + "　" + jaDateTime(t.At, loc)
		}
	}
	return v
}

func buildForm3(d Document) form3View {
	r, loc, p := d.Request, d.loc(), d.policy()
	v := form3View{common: buildCommon(d, p.Forms.SearchBook),
		ManagerTerm: p.Terms.Manager, OperatorTerm: p.Terms.Operator}
	created := d.Printed
	if t, ok := r.FormsIssued["3"]; ok {
		created = t
	}
	v.Created = jaDate(created, loc)
	// The instructing manager is the last "instructed" step: a re-instruction
	// (another operator) supersedes the first.
	for _, t := range r.History {
		switch t.State {
		case core.StateInstructed:
			v.Manager, v.ManagerTitle, v.InstructedAt = t.By, t.JobTitle, jaDate(t.At, loc)
		case core.StateSearched:
			v.Operator, v.OperatorTitle = t.By, t.JobTitle
		}
	}
	if v.Operator == "" {
		v.Operator = r.AssignedOperator
	}
	if res := r.Result; res != nil {
		v.ResultFound, v.ResultNone, v.ResultOther = res.Outcome == "found", res.Outcome == "not-found", res.Outcome == "other"
		v.ResultNote = res.Note
		v.ResultBy = res.By + "　" + jaDateTime(res.At, loc)
		for _, g := range r.FoundRanges() {
			v.Found = append(v.Found, d.rangeLine(g, loc))
		}
	}
	// 特記事項: the applicant, the manager's decision with the judgement
	// and the approved ranges, the copy and the handover, so the one page
	// is the whole search record.
	x := []line{
		{Label: "申請番号", Value: r.ID},
		{Label: "申請者", Value: strings.TrimSpace(r.Agency + "　" + r.ContactPerson)},
		{Label: "受付日", Value: jaDate(r.ReceivedAt, loc)},
	}
	if dec := r.Decision; dec != nil {
		verdict := "不承認"
		if dec.Approved {
			verdict = "承認"
		}
		val := verdict + "　" + dec.By + "　" + jaDateTime(dec.At, loc)
		if dec.Reason != "" {
			val += "　理由：" + dec.Reason
		}
		x = append(x, line{Label: p.Terms.Manager + "の判断", Value: val})
		if dec.Judgement != "" {
			x = append(x, line{Label: p.Judgement.Ja, Value: dec.Judgement})
		}
		if dec.Approved {
			var rs []rangeLine
			for _, g := range r.ApprovedRanges() {
				rs = append(rs, d.rangeLine(g, loc))
			}
			x = append(x, line{Label: "複写を承認した範囲", Ranges: rs})
		}
	} else {
		x = append(x, line{Label: p.Terms.Manager + "の判断", Value: "未決"})
	}
	if e := r.Export; e != nil {
		var files []string
		for _, f := range e.Files {
			files = append(files, f.Name)
		}
		x = append(x, line{Label: "記録媒体への複写", Value: fmt.Sprintf("%s　%s　%d件：%s", e.By, jaDateTime(e.At, loc), len(e.Files), strings.Join(files, "、"))},
			line{Label: "目録（マニフェスト）SHA-256", Value: e.ManifestHash})
	}
	if pr := r.Provision; pr != nil {
		x = append(x, line{Label: "提供", Value: fmt.Sprintf("%s　受領者：%s（%s）　本人確認：%s　文書：%s　記録者：%s",
			jaDate(pr.Date, loc), pr.Recipient, pr.Agency, pr.IDDocType, pr.WrittenRef, pr.By)})
	}
	v.Extra = append(x, v.Extra...)
	for i, t := range r.History {
		v.Steps = append(v.Steps, step{N: fmt.Sprint(i + 1), At: jaDateTime(t.At, loc),
			State: core.StateLabel(t.State, "ja"), By: person(t), Note: t.Note})
	}
	return v
}

func buildForm1(d SignDocument) signView {
	p := d.Policy
	if p.Regulation == "" {
		p = core.CityStandard()
	}
	v := signView{FormNo: p.Forms.Sign.Cite, Title: p.FormTitle(p.Forms.Sign), Issuer: p.Issuer()}
	for _, c := range d.Cameras {
		v.Signs = append(v.Signs, signPage{Number: c.Number, ID: c.ID, Location: c.Location})
	}
	return v
}
