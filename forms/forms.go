// Package forms renders the regulation's paper forms from core's records:
// form 2 (利用申請書, the request as registered) and form 3 (検索簿, the
// search ledger line of a request), as self-contained printable HTML
// (A4, no scripts). It only renders: core types in, HTML out.
package forms

import (
	"fmt"
	"io"
	"strings"
	"time"

	"mimamori/core"
)

// Document is what a form is rendered from.
type Document struct {
	Request core.Request
	// Cameras of the register by id; a camera missing here (removed, or
	// not readable by the caller) prints its id only.
	Cameras map[string]core.Camera
	// Issuer names the forms ("四街道市" gives 四街道市防犯カメラ…); empty
	// gives the generic 防犯カメラ… title.
	Issuer string
	// Addressee of form 2 ("四街道市長"); empty leaves the line blank.
	Addressee string
	// Location is the zone times are printed in (default JST).
	Location *time.Location
	// Printed is when the document is made: form 3's 作成日 and the footer.
	Printed time.Time
}

// Form2 writes 利用申請書 (form 2) for d.Request.
func Form2(w io.Writer, d Document) error { return execute(w, "form2", buildForm2(d)) }

// Form3 writes 検索簿 (form 3) for d.Request.
func Form3(w io.Writer, d Document) error { return execute(w, "form3", buildForm3(d)) }

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

// Render writes form n (2 or 3).
func Render(w io.Writer, n int, d Document) error {
	switch n {
	case 2:
		return Form2(w, d)
	case 3:
		return Form3(w, d)
	}
	return fmt.Errorf("%w: form %d (forms 2 and 3 exist)", core.ErrInvalid, n)
}

// Views: strings only, so the templates hold layout and no logic.

type choice struct {
	Checked bool
	Label   string
	Extra   string // "その他" reason
}

type cameraRow struct {
	ID, Number, Name, Location, Direction string
}

type line struct{ Label, Value string }

type step struct{ N, At, State, By, Note string }

type common struct {
	Title, Subtitle, FormNo, RequestID string
	Printed, PrintedISO                string
	Purposes                           []choice
	From, To, FromISO, ToISO           string
	Cameras                            []cameraRow
	Notes                              string
	Extra                              []line
}

type form2View struct {
	common
	Received, ReceivedISO                           string
	Addressee                                       string
	Address, Agency, Representative, Contact, Phone string
	Issuer                                          string
	RegisteredBy                                    string
}

type form3View struct {
	common
	Manager, Operator                    string
	InstructedAt, InstructedISO          string
	ResultFound, ResultNone, ResultOther bool
	ResultNote                           string
	ResultBy, ResultAt                   string
	Steps                                []step
}

func buildCommon(d Document, formNo, title, subtitle string) common {
	r, loc := d.Request, d.loc()
	c := common{
		Title: d.Issuer + title, Subtitle: subtitle, FormNo: formNo, RequestID: r.ID,
		Printed: jaDate(d.Printed, loc), PrintedISO: isoTime(d.Printed, loc),
		From: jaDateTime(r.From, loc), To: jaDateTime(r.To, loc),
		FromISO: isoTime(r.From, loc), ToISO: isoTime(r.To, loc),
		Notes: r.Notes,
	}
	for _, p := range core.Purposes {
		ch := choice{Checked: r.Purpose == p, Label: labelOr(purposeJa, p)}
		if p == "other" && r.Purpose == "other" {
			ch.Extra = r.PurposeReason
		}
		c.Purposes = append(c.Purposes, ch)
	}
	for _, id := range r.Cameras {
		cam, ok := d.Cameras[id]
		row := cameraRow{ID: id}
		if ok {
			row.Number, row.Name, row.Location, row.Direction = cam.Number, cam.Name, cam.Location, cam.Direction
		}
		c.Cameras = append(c.Cameras, row)
	}
	ground := labelOr(groundJa, r.Ground)
	if r.GroundNote != "" {
		ground += "（" + r.GroundNote + "）"
	}
	c.Extra = append(c.Extra, line{"提供の根拠 (legal ground)", ground})
	if r.WrittenRef != "" {
		c.Extra = append(c.Extra, line{"申請文書番号 (written request)", r.WrittenRef})
	}
	return c
}

func buildForm2(d Document) form2View {
	r, loc := d.Request, d.loc()
	v := form2View{
		common: buildCommon(d, "様式第２号（第９条第１項）", "防犯カメラ画像データ利用申請書",
			"Application for use of security-camera image data (form 2)"),
		Received: jaDate(r.ReceivedAt, loc), ReceivedISO: isoTime(r.ReceivedAt, loc),
		Addressee: d.Addressee, Address: r.ApplicantAddress, Agency: r.Agency,
		Representative: r.Representative, Contact: r.ContactPerson, Phone: r.Phone,
		Issuer: d.Issuer, RegisteredBy: r.CreatedBy,
	}
	if v.Issuer == "" {
		v.Issuer = "貴職"
	}
	return v
}

func buildForm3(d Document) form3View {
	r, loc := d.Request, d.loc()
	v := form3View{common: buildCommon(d, "様式第３号（第９条第４項）", "防犯カメラ画像データ検索簿",
		"Search ledger of security-camera image data (form 3)")}
	// The instructing manager is the last "instructed" step: a re-instruction
	// (another operator) supersedes the first.
	for _, t := range r.History {
		if t.State == core.StateInstructed {
			v.Manager, v.InstructedAt, v.InstructedISO = t.By, jaDate(t.At, loc), isoTime(t.At, loc)
		}
	}
	v.Operator = r.AssignedOperator
	if res := r.Result; res != nil {
		if res.By != "" {
			v.Operator = res.By
		}
		v.ResultFound, v.ResultNone, v.ResultOther = res.Outcome == "found", res.Outcome == "not-found", res.Outcome == "other"
		v.ResultNote, v.ResultBy, v.ResultAt = res.Note, res.By, jaDateTime(res.At, loc)
	}
	// 特記事項: the applicant, the manager's decision, the export and the
	// provision, so the one page is the whole search-ledger line.
	x := []line{
		{"申請番号 (request)", r.ID},
		{"申請者 (requester)", strings.TrimSpace(r.Agency + "　" + r.ContactPerson)},
		{"受付日 (received)", jaDate(r.ReceivedAt, loc)},
	}
	if dec := r.Decision; dec != nil {
		verdict := "不承認 (denied)"
		if dec.Approved {
			verdict = "承認 (approved)"
		}
		val := verdict + "　" + dec.By + "　" + jaDateTime(dec.At, loc)
		if dec.Reason != "" {
			val += "　理由: " + dec.Reason
		}
		x = append(x, line{"管理責任者の判断 (manager's decision)", val})
	} else {
		x = append(x, line{"管理責任者の判断 (manager's decision)", "未決 (pending)"})
	}
	if e := r.Export; e != nil {
		var files []string
		for _, f := range e.Files {
			files = append(files, f.Name)
		}
		x = append(x, line{"複写 (export)", fmt.Sprintf("%s　%s　%d件: %s", e.By, jaDateTime(e.At, loc), len(e.Files), strings.Join(files, ", "))},
			line{"マニフェスト SHA-256 (manifest)", e.ManifestHash})
	}
	if p := r.Provision; p != nil {
		x = append(x, line{"提供 (provision)", fmt.Sprintf("%s　受領者: %s（%s）　本人確認: %s　文書: %s　記録: %s",
			jaDate(p.Date, loc), p.Recipient, p.Agency, p.IDDocType, p.WrittenRef, p.By)})
	}
	v.Extra = append(x, v.Extra...)
	for i, t := range r.History {
		v.Steps = append(v.Steps, step{N: fmt.Sprint(i + 1), At: jaDateTime(t.At, loc),
			State: labelOr(stateJa, string(t.State)) + " (" + string(t.State) + ")", By: t.By, Note: t.Note})
	}
	return v
}
