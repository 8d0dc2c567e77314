package forms

import (
	"html/template"
	"io"
	"strings"
	"time"

	"mimamori/core"
)

// Custody documents: the package key sheet the manager prints for the
// recipient at approval (the secret is shown only then), and the handover
// receipt. Same page frame as forms 2 and 3.
var custodyTmpl = template.Must(template.Must(tmpl.Clone()).Parse(keySheetHTML))

// KeySheet is the package key sheet of an approved request.
type KeySheet struct {
	Request      core.Request
	Secret       string // AGE-SECRET-KEY-1…, shown once
	ApplianceKey string // the appliance key's fingerprint (SHA256:…)
	Issuer       string
	Location     *time.Location
	Printed      time.Time
}

type keySheetView struct {
	Title, RequestID, Printed, PrintedISO string
	Agency, Contact, Issuer               string
	Secret, Recipient, ApplianceKey       string
	From, To                              string
}

// RenderKeySheet writes the package key sheet.
func RenderKeySheet(w io.Writer, k KeySheet) error {
	loc := k.Location
	if loc == nil {
		loc = jst
	}
	r := k.Request
	v := keySheetView{Title: k.Issuer + "防犯カメラ画像データ 書出しパッケージ鍵", RequestID: r.ID,
		Printed: jaDate(k.Printed, loc), PrintedISO: isoTime(k.Printed, loc), Agency: r.Agency, Contact: r.ContactPerson,
		Issuer: k.Issuer, Secret: k.Secret, ApplianceKey: k.ApplianceKey,
		From: jaDateTime(r.From, loc), To: jaDateTime(r.To, loc)}
	if p := r.Protection; p != nil {
		v.Recipient = p.Recipient
	}
	return executeIn(custodyTmpl, w, "keysheet", v)
}

const keySheetHTML = `{{define "keysheet"}}{{template "head" .}}
<h1>{{.Title}}</h1>
<div class="sub">Key to the export package of request {{.RequestID}} — hand to the recipient; keep no copy</div>
<div class="right">{{.Printed}}</div>
<table class="grid" style="margin-top:3mm">
<tr><th>申請番号<small>request</small></th><td>{{.RequestID}}</td></tr>
<tr><th>受領機関<small>recipient</small></th><td>{{.Agency}}{{if .Contact}}　{{.Contact}}{{end}}</td></tr>
<tr><th>対象画像データ<small>footage range</small></th><td>{{.From}}から {{.To}}まで</td></tr>
<tr><th>パッケージ鍵<small>package secret</small></th><td class="mono" style="font-size:11pt">{{.Secret}}</td></tr>
<tr><th>公開鍵<small>its public half (in the manifest)</small></th><td class="mono">{{.Recipient}}</td></tr>
<tr><th>装置の鍵<small>appliance key fingerprint</small></th><td class="mono">{{.ApplianceKey}}</td></tr>
</table>
<p class="lead">この鍵は承認時に管理責任者にのみ一度表示され、装置には保存されていません。パッケージはこの鍵でのみ開けます。</p>
<p class="en">This secret was shown once, to the manager, at approval; the appliance keeps only its public half. Save the secret line to a file (key.txt) and check and open the package with:</p>
<div class="mono">mimamori verify PACKAGE.mimamori --identity key.txt --key {{.ApplianceKey}} --extract out/</div>
<p class="en">or decrypt it with the age tool: <span class="mono">age -d -i key.txt PACKAGE.mimamori &gt; package.tar</span> (the manifest inside is signed by the appliance key above).</p>
{{template "tail" .}}{{end}}`

// executeIn is execute for the custody documents' template set.
func executeIn(t *template.Template, w io.Writer, name string, v any) error {
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	_, err := io.WriteString(w, core.CleanText(b.String(), 0))
	return err
}
