package forms

import (
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"strings"
	"time"

	"mimamori/core"
)

// Custody documents: the package key sheet the manager prints for the
// recipient at approval (the secret is shown only then), and the handover
// receipt. Same page frame as forms 2 and 3.
var custodyTmpl = template.Must(template.Must(tmpl.Clone()).Parse(keySheetHTML + receiptHTML))

// anchorLine is the footer line that anchors a printed document in the
// ledger: the checkpoint's tree size and short root, and the appliance key.
func anchorLine(cp *core.Checkpoint, key string) string {
	if cp == nil {
		return ""
	}
	if key == "" {
		key = cp.Fingerprint
	}
	return fmt.Sprintf("台帳チェックポイント (ledger checkpoint) %s: %d 件 (entries), root %s, %s　装置の鍵 (appliance key) %s",
		cp.Origin, cp.Size, cp.ShortRoot(), cp.Time.UTC().Format(time.RFC3339), key)
}

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
	Anchor                                string
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

// Receipt is the handover receipt of an exported request (000 §9-4, 001
// §6 ア–ウ): what left, on what, to whom, checked how, anchored in the
// ledger and signed for by both sides.
type Receipt struct {
	Request      core.Request
	ApplianceKey string
	Checkpoint   *core.Checkpoint
	Issuer       string
	Location     *time.Location
	Printed      time.Time
}

type receiptView struct {
	Anchor                                string
	Title, RequestID, Printed, PrintedISO string
	Package, SHA256, Size, Protection     string
	ApplianceKey                          string
	CheckpointSize, CheckpointRoot        string
	Recipient, Agency, IDDoc, Medium      string
	WrittenRef, HandedOn, HandedBy        string
	Erased                                string
	Files                                 []line
}

// RenderReceipt writes the handover receipt. Before the handover is
// recorded, the recipient's lines are left blank to be filled in by hand.
func RenderReceipt(w io.Writer, rc Receipt) error {
	loc := rc.Location
	if loc == nil {
		loc = jst
	}
	r := rc.Request
	if r.Export == nil {
		return fmt.Errorf("%w: request %s has no export package", core.ErrConflict, r.ID)
	}
	e := r.Export
	v := receiptView{Title: rc.Issuer + "防犯カメラ画像データ 提供受領書", RequestID: r.ID,
		Printed: jaDate(rc.Printed, loc), PrintedISO: isoTime(rc.Printed, loc),
		Package: filepath.Base(e.Path), SHA256: e.PackageSHA256, ApplianceKey: rc.ApplianceKey,
		Anchor: anchorLine(rc.Checkpoint, rc.ApplianceKey), WrittenRef: r.WrittenRef}
	if e.PackageBytes > 0 {
		v.Size = fmt.Sprintf("%d bytes", e.PackageBytes)
	}
	switch e.Protection {
	case core.ProtectApprovalSecret:
		v.Protection = "承認時に管理責任者が受けた鍵 (package secret held by the manager) " + e.KeyID
	case core.ProtectRecipientKey:
		v.Protection = "受領者の公開鍵 (recipient's key) " + e.KeyID
	}
	if cp := rc.Checkpoint; cp != nil {
		v.CheckpointSize, v.CheckpointRoot = fmt.Sprint(cp.Size), cp.ShortRoot()
	}
	for _, f := range e.Files {
		v.Files = append(v.Files, line{Label: f.Name, Value: fmt.Sprintf("%d bytes　SHA-256 %s", f.Bytes, f.SHA256)})
	}
	if p := r.Provision; p != nil {
		v.Recipient, v.Agency, v.IDDoc, v.Medium = p.Recipient, p.Agency, p.IDDocType, p.Medium
		v.HandedOn, v.HandedBy = jaDate(p.Date, loc), p.By
		// The manager who handed over, with 職名 and 所属 as the key said then.
		for _, t := range r.History {
			if t.State == core.StateProvided {
				v.HandedBy = personWithSection(t)
			}
		}
		if p.WrittenRef != "" {
			v.WrittenRef = p.WrittenRef
		}
	}
	if !e.ErasedAt.IsZero() {
		v.Erased = jaDateTime(e.ErasedAt, loc)
	}
	return executeIn(custodyTmpl, w, "receipt", v)
}

const receiptHTML = `{{define "receipt"}}{{template "head" .}}
<h1>{{.Title}}</h1>
<div class="sub">Receipt of security-camera image data (handover of an export package)</div>
<div class="right">{{if .HandedOn}}{{.HandedOn}}{{else}}年　　月　　日{{end}}</div>
<table class="grid" style="margin-top:3mm">
<tr><th>申請番号<small>request</small></th><td>{{.RequestID}}{{if .WrittenRef}}　（申請文書 {{.WrittenRef}}）{{end}}</td></tr>
<tr><th>パッケージ<small>package</small></th><td class="mono">{{.Package}}</td></tr>
<tr><th>SHA-256<small>of the package file</small></th><td class="mono">{{.SHA256}}</td></tr>
<tr><th>大きさ<small>size</small></th><td>{{.Size}}</td></tr>
<tr><th>収録ファイル<small>files inside</small></th><td>{{range .Files}}<div class="mono">{{.Label}}　{{.Value}}</div>{{end}}</td></tr>
<tr><th>暗号化<small>protected with</small></th><td class="mono">{{.Protection}}</td></tr>
<tr><th>装置の鍵<small>appliance key fingerprint</small></th><td class="mono">{{.ApplianceKey}}</td></tr>
<tr><th>台帳チェックポイント<small>ledger checkpoint</small></th><td class="mono">{{if .CheckpointSize}}{{.CheckpointSize}} 件 (entries)　root {{.CheckpointRoot}}{{end}}</td></tr>
<tr><th>受領者<small>recipient</small></th><td>{{.Recipient}}</td></tr>
<tr><th>所属<small>agency</small></th><td>{{.Agency}}</td></tr>
<tr><th>本人確認書類<small>identity document</small></th><td>{{.IDDoc}}</td></tr>
<tr><th>記録媒体<small>medium</small></th><td>{{.Medium}}</td></tr>
<tr><th>提供者<small>handed over by</small></th><td>{{.HandedBy}}</td></tr>
{{if .Erased}}<tr><th>装置内の複製<small>appliance copy</small></th><td>{{.Erased}} 消去 (erased)</td></tr>{{end}}
</table>
<p class="lead">上記の画像データを受領しました。受領者は <span class="mono">mimamori verify PACKAGE --identity KEY --key {{.ApplianceKey}}{{if .SHA256}} --package-sha256 {{.SHA256}}{{end}}</span> で、装置の鍵による署名とファイルの一致、受領したパッケージがこの受領書のものであることを確認できます。</p>
<table class="grid" style="margin-top:8mm">
<tr><th>受領者 署名<small>recipient's signature</small></th><td style="height:14mm"></td></tr>
<tr><th>管理責任者 署名<small>manager's signature</small></th><td style="height:14mm"></td></tr>
</table>
{{template "tail" .}}{{end}}`
