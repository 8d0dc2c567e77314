package forms

import "html/template"

// One template set, parsed once; html/template escapes every value, so a
// hostile field cannot add markup. No scripts, no external resources: the
// file prints the same offline. Japanese only: these are the official
// forms (English is the console's).
var tmpl = template.Must(template.New("forms").Parse(pageCSS + form1HTML + form2HTML + form3HTML + partsHTML))

const pageCSS = `{{define "style"}}<style>
@page { size: A4 portrait; margin: 15mm 18mm; }
* { box-sizing: border-box; }
html { background: #eee; }
body { margin: 0; font-family: "Noto Serif CJK JP", "Noto Serif JP", "IPAexMincho", "IPAMincho", "Yu Mincho", "Hiragino Mincho ProN", serif;
  font-size: 10.5pt; line-height: 1.45; color: #000; }
.page { width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 15mm 18mm; background: #fff; }
@media print { html { background: none; } body { font-size: 10pt; } .page { width: auto; min-height: 0; margin: 0; padding: 0; }
  .grid th, .grid td { padding: 1.2mm 2.2mm; } h1 { margin-top: 3mm; } }
.formno { font-size: 9.5pt; }
.right { text-align: right; }
h1 { font-size: 15pt; text-align: center; letter-spacing: .12em; margin: 6mm 0 5mm; font-weight: bold; }
table { border-collapse: collapse; width: 100%; }
.grid th, .grid td { border: 0.6pt solid #000; padding: 1.8mm 2.4mm; vertical-align: top; text-align: left; }
.grid th { width: 34mm; font-weight: normal; background: #f4f4f4; }
.grid td.k { width: 28mm; text-align: center; }
.applicant { width: 62%; margin-left: auto; }
.applicant td { border-bottom: 0.6pt solid #000; padding: 1.6mm 2mm; }
.applicant .k { width: 22mm; white-space: nowrap; }
.applicant .role { width: 20mm; white-space: nowrap; border-bottom: none; vertical-align: middle; }
.seal { display: inline-block; float: right; width: 10mm; height: 10mm; border: 0.6pt solid #000; border-radius: 50%; text-align: center; line-height: 10mm; font-size: 8pt; }
.lead { margin: 5mm 0 3mm; }
.box { font-family: sans-serif; }
.multi { white-space: pre-wrap; overflow-wrap: anywhere; }
.mono { font-family: monospace; font-size: 8.5pt; overflow-wrap: anywhere; }
.small { font-size: 8.5pt; color: #333; }
.cams td { border: none; padding: 0.4mm 0; }
.found { margin: 0.6mm 0 0.6mm 5mm; }
.nw, .range { white-space: nowrap; }
.steps { margin-top: 1mm; font-size: 9pt; }
.steps th, .steps td { border: 0.6pt solid #000; padding: 1mm 2mm; text-align: left; vertical-align: top; }
.steps th { background: #f4f4f4; font-weight: normal; }
.steps td.nw { white-space: nowrap; }
.steps-cap { margin-top: 5mm; font-size: 9pt; page-break-after: avoid; }
.sub { text-align: center; font-size: 8.5pt; color: #444; margin: -3mm 0 5mm; font-family: sans-serif; }
.en, .grid th small { display: block; font-size: 7.5pt; color: #555; font-family: sans-serif; }
.foot { margin-top: 6mm; font-size: 8pt; color: #444; border-top: 0.4pt solid #999; padding-top: 1.5mm; }
tr { page-break-inside: avoid; }
</style>{{end}}
{{define "head"}}<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.RequestID}}</title>
{{template "style"}}
</head>
<body>
<div class="page">
{{end}}
{{define "tail"}}<div class="foot">申請番号 {{.RequestID}}　印刷 {{.PrintedISO}}　この様式は記録装置の台帳の記録から作成したものです。</div>{{if .Anchor}}
<div class="foot mono">{{.Anchor}}</div>{{end}}
</div>
</body>
</html>
{{end}}`

// Form 1 is a sign 30 cm tall and 10 cm wide (様式第１号's ※), written
// vertically; each camera gets its own page of that size.
const form1HTML = `{{define "form1"}}<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
@page { size: 100mm 300mm; margin: 0; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "Yu Gothic", sans-serif; color: #000; }
.sign { width: 100mm; height: 300mm; padding: 6mm; page-break-after: always; display: flex; flex-direction: column; }
.sign:last-child { page-break-after: auto; }
.plate { flex: 1; border: 1.2mm solid #000; display: flex; flex-direction: row-reverse; justify-content: center; align-items: flex-start; gap: 5mm; padding: 12mm 3mm; }
.v { writing-mode: vertical-rl; text-orientation: upright; letter-spacing: .1em; }
.main { font-size: 60pt; font-weight: bold; }
.by { align-self: flex-end; font-size: 14pt; }
.by .org { font-size: 24pt; font-weight: bold; }
.meta { font-size: 6.5pt; color: #444; margin-top: 1.5mm; display: flex; justify-content: space-between; }
</style>
</head>
<body>
{{range .Signs}}<div class="sign">
<div class="plate"><div class="v main">防犯カメラ作動中</div><div class="v by"><span>設置者　</span><span class="org">{{$.Issuer}}</span></div></div>
<div class="meta"><span>{{$.FormNo}}</span><span>カメラ{{if .Number}}{{.Number}}{{end}}（{{.ID}}）{{.Location}}</span></div>
</div>
{{end}}</body>
</html>
{{end}}`

const form2HTML = `{{define "form2"}}{{template "head" .}}<div class="formno">{{.FormNo}}</div>
<div class="right">{{if .Date}}{{.Date}}{{else}}年　　月　　日{{end}}</div>
<p>{{if .Addressee}}{{.Addressee}}{{else}}　　　　　　{{end}}　様</p>
<table class="applicant">
<tr><td class="role" rowspan="5">（申請者）</td><td class="k">所在地</td><td>{{.Address}}</td></tr>
<tr><td class="k">機関名等</td><td>{{.Agency}}</td></tr>
<tr><td class="k">代表者名</td><td>{{.Representative}}<span class="seal">印</span></td></tr>
<tr><td class="k">担当者名</td><td>{{.Contact}}<span class="seal">印</span></td></tr>
<tr><td class="k">電話番号</td><td>{{.Phone}}</td></tr>
</table>
<h1>{{.Title}}</h1>
<p class="lead">{{.Lead}}</p>
<table class="grid">
<tr><th>目的</th><td>{{template "purposes" .}}</td></tr>
<tr><th>防犯カメラ<br>設置箇所</th><td>{{template "locations" .}}</td></tr>
<tr><th>防犯カメラ番号</th><td>{{template "numbers" .}}</td></tr>
<tr><th>対象画像データ</th><td>{{.From}}頃から<br>{{.To}}頃まで</td></tr>
<tr><th>特記事項</th><td><div class="multi">{{.Notes}}</div>{{template "extra" .}}</td></tr>
</table>
{{if .RegisteredBy}}<div class="small" style="margin-top:2mm">受付者：{{.RegisteredBy}}</div>{{end}}
{{template "tail" .}}{{end}}`

const form3HTML = `{{define "form3"}}{{template "head" .}}<div class="formno">{{.FormNo}}</div>
<h1>{{.Title}}</h1>
<div class="right">{{if .Created}}{{.Created}}{{else}}年　　月　　日{{end}}作成</div>
<table class="grid" style="margin-top:3mm">
<tr><th rowspan="2">検索指示者<br>({{.ManagerTerm}})</th><td class="k">職名</td><td>氏名</td></tr>
<tr><td class="k">{{.ManagerTitle}}</td><td>{{.Manager}}</td></tr>
<tr><th rowspan="2">{{.OperatorTerm}}</th><td class="k">職名</td><td>氏名</td></tr>
<tr><td class="k">{{.OperatorTitle}}</td><td>{{.Operator}}</td></tr>
<tr><th>検索指示年月日</th><td colspan="2">{{if .InstructedAt}}{{.InstructedAt}}{{else}}年　　月　　日{{end}}</td></tr>
<tr><th>検索目的</th><td colspan="2">{{template "purposes" .}}</td></tr>
<tr><th>対象画像データ</th><td colspan="2">{{.From}}から<br>{{.To}}まで</td></tr>
<tr><th>防犯カメラ<br>設置箇所</th><td colspan="2">{{template "locations" .}}</td></tr>
<tr><th>防犯カメラ<br>番号</th><td colspan="2">{{template "numbers" .}}</td></tr>
<tr><th>検索及び再生<br>確認結果</th><td colspan="2">
<div><span class="box">{{if .ResultFound}}■{{else}}□{{end}}</span> 対象画像データ【有】（内容　{{if .ResultFound}}<span class="multi">{{.ResultNote}}</span>{{end}}　）</div>
{{if .ResultFound}}{{range .Found}}{{template "range" .}}{{end}}{{end}}<div><span class="box">{{if .ResultNone}}■{{else}}□{{end}}</span> 対象画像データ【無】{{if and .ResultNone .ResultNote}}（{{.ResultNote}}）{{end}}</div>
<div><span class="box">{{if .ResultOther}}■{{else}}□{{end}}</span> その他{{if .ResultOther}}（<span class="multi">{{.ResultNote}}</span>）{{end}}</div>
{{if .ResultOther}}{{range .Found}}{{template "range" .}}{{end}}{{end}}{{if .ResultBy}}<div class="small">報告：{{.ResultBy}}</div>{{end}}</td></tr>
<tr><th>特記事項</th><td colspan="2">{{if .Notes}}<div class="multi">{{.Notes}}</div>{{end}}{{template "extra" .}}</td></tr>
</table>
<div class="steps-cap">経過（申請番号 {{.RequestID}}）</div>
<table class="steps">
<tr><th>#</th><th>日時</th><th>段階</th><th>実施者（職名）</th><th>備考</th></tr>
{{range .Steps}}<tr><td>{{.N}}</td><td class="nw">{{.At}}</td><td class="nw">{{.State}}</td><td class="nw">{{.By}}</td><td class="multi">{{.Note}}</td></tr>
{{end}}</table>
{{template "tail" .}}{{end}}`

const partsHTML = `{{define "purposes"}}{{range .Purposes}}<div><span class="box">{{if .Checked}}■{{else}}□{{end}}</span> {{.Label}}{{if .Other}}（理由　{{.Extra}}　）{{end}}</div>
{{end}}{{end}}
{{define "locations"}}<table class="cams">{{range .Cameras}}<tr><td>{{if .Location}}{{.Location}}{{else}}{{.ID}}{{end}}{{if .Name}}（{{.Name}}）{{end}}{{if .Direction}}　撮影方向：{{.Direction}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{define "numbers"}}{{range $i, $c := .Cameras}}{{if $i}}、{{end}}{{if $c.Number}}{{$c.Number}}（{{$c.ID}}）{{else}}{{$c.ID}}{{end}}{{end}}{{end}}
{{define "extra"}}{{range .Extra}}<div>{{.Label}}：{{if .Ranges}}{{range .Ranges}}{{template "range" .}}{{end}}{{else}}<span class="multi">{{.Value}}</span>{{end}}</div>
{{end}}{{end}}
{{define "range"}}<div class="found"><span class="nw">{{.Camera}}</span>　<span class="range">{{.Range}}</span></div>
{{end}}`
