package sshd

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"mimamori/core"
)

// The police-request workflow (000 §8-9, forms 2 and 3; 001 §6) as script
// commands. Every step goes through core with the session's actor, so
// core checks the role and the request's state and ledgers the step.

const requestUsage = "new|show|list|instruct|result|approve|protect|deny|export|provide|receipt|close ...   (request help)"

// requestHelp is the full synopsis, one line per subcommand.
var requestHelp = []string{
	"request new --agency A --address A --representative R --contact C --phone P",
	"            --purpose arrest|investigation|other [--reason R]",
	"            --ground G [--ground-note N] [--consent WHO-AND-DOCUMENT]   (grounds of the policy: request grounds)",
	"            --cameras cam1,cam2 --from T --to T [--notes N] [--written-ref REF] [--received T]",
	"            [--recipient-key KEY]   (the recipient's age or ssh-ed25519 public key)",
	"request show ID | request list | request grounds",
	"request instruct ID --operator NAME",
	"request result ID --found yes --range cam1=T1/T2[,cam2=T1/T2...] [--note N]   (what was found, per camera)",
	"request result ID --found no|other [--note N]",
	"request approve ID --judgement TEXT [--range cam=T1/T2,...] [--consent C] [--recipient-key KEY] [--sheet]",
	"            (exactly what was found, or narrower; shows the package secret once, --sheet: printable)",
	"request protect ID [--recipient-key KEY] [--sheet]   (a new package secret, or the recipient's key)",
	"request deny ID --reason R",
	"request export ID            (the export passphrase on stdin, if the manager set one)",
	"request provide ID --recipient NAME --agency A --id-doc TYPE [--medium M] [--written-ref REF] [--date T]",
	"            (--medium: what the package left on; the appliance's copy is then erased unless held)",
	"request close ID",
	"request receipt ID           (HTML handover receipt: package, SHA-256, appliance key, checkpoint, recipient, medium)",
	"request form2 ID | request form3 ID   (HTML of form 2 利用申請書 / form 3 検索簿 on stdout)",
	"every subcommand takes --json; times are RFC 3339",
}

// requestAccess is who may run each request subcommand (Command.Access).
var requestAccess = access(core.ActionRequestsRead, map[string]core.Action{
	"new": core.ActionRequestRegister, "show": core.ActionRequestsRead, "list": core.ActionRequestsRead,
	"grounds": core.ActionRequestsRead, "instruct": core.ActionRequestInstruct, "result": core.ActionRequestResult,
	"approve": core.ActionRequestApprove, "protect": core.ActionRequestProtect, "deny": core.ActionRequestDeny,
	"export": core.ActionRequestExport, "provide": core.ActionRequestProvide, "receipt": core.ActionRequestsRead,
	"close": core.ActionRequestClose, "form2": core.ActionFormIssue, "form3": core.ActionFormIssue,
})

func printRequestHelp(env *Env, w io.Writer) {
	for _, l := range requestHelp {
		fmt.Fprintln(w, "  "+l)
	}
}

// flagOf maps core's field names to the flags that set them, so an error
// tells the user which flag to fix.
var flagOf = map[string]string{
	"address": "--address", "agency": "--agency", "representative": "--representative",
	"contact": "--contact", "phone": "--phone", "purpose": "--purpose", "reason": "--reason",
	"ground": "--ground", "ground_note": "--ground-note", "notes": "--notes", "written_ref": "--written-ref",
	"cameras": "--cameras", "from": "--from", "to": "--to", "operator": "--operator", "found": "--found",
	"ranges": "--range", "judgement": "--judgement", "consent": "--consent",
	"note": "--note", "recipient": "--recipient", "id_doc": "--id-doc", "camera": "--camera",
	"until": "--until", "passphrase": "stdin",
}

// fail reports err like env.Fail, naming the flag behind a *core.FieldError.
func fail(env *Env, action core.Action, err error) int {
	if errors.Is(err, core.ErrWrongPassphrase) {
		fmt.Fprintf(env.Stderr, msg(env.Lang, msgError)+"\n",
			env.T("wrong export passphrase (stdin); the attempt is recorded in the ledger",
				"書出しパスワードが違います (stdin)。この試行は台帳に記録されました"))
		return ExitError
	}
	var fe *core.FieldError
	if errors.As(err, &fe) {
		where := fe.Field
		if f, ok := flagOf[fe.Field]; ok {
			where = fe.Field + " (" + f + ")"
		}
		fmt.Fprintf(env.Stderr, msg(env.Lang, msgError)+"\n", "invalid "+where+": "+clean(fe.Reason))
		return ExitError
	}
	return env.Fail(action, err)
}

func runRequest(env *Env, args []string) int {
	if len(args) == 0 {
		code := env.UsageError("request", "missing subcommand")
		printRequestHelp(env, env.Stderr)
		return code
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "help", "--help", "-h":
		printRequestHelp(env, env.Stdout)
		return ExitOK
	case "new":
		return runRequestNew(env, rest)
	case "show":
		return runRequestShow(env, rest)
	case "list":
		return runRequestList(env, rest)
	case "instruct":
		return runRequestInstruct(env, rest)
	case "result":
		return runRequestResult(env, rest)
	case "approve":
		return runRequestApprove(env, rest)
	case "deny":
		return runRequestDeny(env, rest)
	case "export":
		return runRequestExport(env, rest)
	case "protect":
		return runRequestProtect(env, rest)
	case "receipt":
		return runRequestReceipt(env, rest)
	case "provide":
		return runRequestProvide(env, rest)
	case "close":
		return runRequestClose(env, rest)
	case "grounds":
		return runRequestGrounds(env, rest)
	case "form2", "form3": // printable forms (cmd_forms.go)
		return runRequestForm(env, int(sub[4]-'0'), rest)
	}
	code := env.UsageError("request", fmt.Sprintf("unknown subcommand %q", sub))
	printRequestHelp(env, env.Stderr)
	return code
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runRequestNew(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	agency, address, rep := f.String("agency"), f.String("address"), f.String("representative")
	contact, phone := f.String("contact"), f.String("phone")
	purpose, reason := f.String("purpose"), f.String("reason")
	ground, groundNote := f.String("ground"), f.String("ground-note")
	cams, fromS, toS := f.String("cameras"), f.String("from"), f.String("to")
	notes, ref, received := f.String("notes"), f.String("written-ref"), f.String("received")
	consent := f.String("consent")
	recipientKey := f.String("recipient-key")
	pos, err := f.Parse(args)
	if err != nil || len(pos) > 0 {
		return env.UsageError("request", errText(err, pos))
	}
	for _, req := range []string{"agency", "address", "representative", "contact", "phone", "purpose", "ground", "cameras", "from", "to"} {
		if !f.IsSet(req) {
			return env.UsageError("request", "request new: --"+req+" is required")
		}
	}
	in := core.RequestInput{ApplicantAddress: *address, Agency: *agency, Representative: *rep,
		ContactPerson: *contact, Phone: *phone, Purpose: *purpose, PurposeReason: *reason,
		Ground: *ground, GroundNote: *groundNote, Cameras: splitList(*cams), Notes: *notes, WrittenRef: *ref,
		Consent: *consent, RecipientKey: *recipientKey}
	if in.From, err = ParseTime("from", *fromS); err != nil {
		return env.UsageError("request", err.Error())
	}
	if in.To, err = ParseTime("to", *toS); err != nil {
		return env.UsageError("request", err.Error())
	}
	if *received != "" {
		if in.ReceivedAt, err = ParseTime("received", *received); err != nil {
			return env.UsageError("request", err.Error())
		}
	}
	r, err := env.Core.RegisterRequest(env.Actor, in)
	if err != nil {
		return fail(env, core.ActionRequestRegister, err)
	}
	if *asJSON {
		return env.JSON(toRequestJSON(r))
	}
	fmt.Fprintln(env.Stdout, r.ID)
	return ExitOK
}

// oneID parses "ID [flags]" for the step subcommands.
func oneID(env *Env, f *Flags, sub string, args []string) (string, bool) {
	pos, err := f.Parse(args)
	if err != nil {
		env.UsageError("request", err.Error())
		return "", false
	}
	if len(pos) != 1 {
		if len(pos) == 0 {
			env.UsageError("request", "request "+sub+": missing request ID")
		} else {
			env.UsageError("request", fmt.Sprintf("unexpected argument %q", pos[1]))
		}
		return "", false
	}
	return pos[0], true
}

func runRequestShow(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := oneID(env, f, "show", args)
	if !ok {
		return ExitUsage
	}
	r, err := env.Core.Request(env.Actor, id)
	if err != nil {
		return fail(env, core.ActionRequestsRead, err)
	}
	if *asJSON {
		return env.JSON(toRequestJSON(r))
	}
	printRequest(env, r)
	return ExitOK
}

func runRequestList(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("request", errText(err, pos))
	}
	rs, err := env.Core.Requests(env.Actor)
	if err != nil {
		return fail(env, core.ActionRequestsRead, err)
	}
	if *asJSON {
		out := make([]requestJSON, 0, len(rs))
		for _, r := range rs {
			out = append(out, toRequestJSON(r))
		}
		return env.JSON(out)
	}
	if len(rs) == 0 {
		fmt.Fprintln(env.Stdout, env.T("no requests", "申請はありません"))
		return ExitOK
	}
	t := newTable()
	t.row("ID", env.T("STATE", "状態"), env.T("RECEIVED", "受付日時"), env.T("AGENCY", "申請機関"),
		env.T("PURPOSE", "目的"), env.T("CAMERAS", "カメラ"), env.T("FROM", "開始"), env.T("TO", "終了"))
	for _, r := range rs {
		t.row(clean(r.ID), stateLabel(env, r.State), env.Time(r.ReceivedAt), dash(r.Agency),
			purposeLabel(env, r.Purpose), dash(strings.Join(r.Cameras, ",")), env.Time(r.From), env.Time(r.To))
	}
	t.write(env.Stdout)
	return ExitOK
}

// stepDone prints the outcome of a state-machine step.
func stepDone(env *Env, asJSON bool, r core.Request) int {
	if asJSON {
		return env.JSON(toRequestJSON(r))
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", clean(r.ID), stateLabel(env, r.State))
	return ExitOK
}

func runRequestInstruct(env *Env, args []string) int {
	f := NewFlags()
	asJSON, op := f.Bool("json"), f.String("operator")
	id, ok := oneID(env, f, "instruct", args)
	if !ok {
		return ExitUsage
	}
	if !f.IsSet("operator") {
		return env.UsageError("request", "request instruct: --operator is required")
	}
	r, err := env.Core.InstructSearch(env.Actor, id, *op)
	if err != nil {
		return fail(env, core.ActionRequestInstruct, err)
	}
	return stepDone(env, *asJSON, r)
}

func runRequestResult(env *Env, args []string) int {
	f := NewFlags()
	asJSON, found, note, rangesS := f.Bool("json"), f.String("found"), f.String("note"), f.String("range")
	id, ok := oneID(env, f, "result", args)
	if !ok {
		return ExitUsage
	}
	if !f.IsSet("found") {
		return env.UsageError("request", "request result: --found yes|no|other is required")
	}
	ranges, err := ParseRanges(*rangesS)
	if err != nil {
		return env.UsageError("request", err.Error())
	}
	r, err := env.Core.RecordResult(env.Actor, id, *found, *note, ranges...)
	if err != nil {
		return fail(env, core.ActionRequestResult, err)
	}
	return stepDone(env, *asJSON, r)
}

func runRequestApprove(env *Env, args []string) int {
	f := NewFlags()
	asJSON, judgement, rangesS, consent := f.Bool("json"), f.String("judgement"), f.String("range"), f.String("consent")
	sheet, recipientKey := f.Bool("sheet"), f.String("recipient-key")
	id, ok := oneID(env, f, "approve", args)
	if !ok {
		return ExitUsage
	}
	ranges, err := ParseRanges(*rangesS)
	if err != nil {
		return env.UsageError("request", err.Error())
	}
	// Core checks the role before the fields, so a role that may not
	// approve is refused (and ledgered) whatever it typed.
	r, err := env.Core.Approve(env.Actor, id, core.ApprovalInput{Judgement: *judgement, Ranges: ranges, Consent: *consent})
	if err != nil {
		var fe *core.FieldError
		if errors.As(err, &fe) && fe.Field == "judgement" {
			fmt.Fprintln(env.Stderr, "--judgement: "+env.Core.Policy().Judgement.Text(env.Lang))
		}
		return fail(env, core.ActionRequestApprove, err)
	}
	// The approval chooses the package's protection at once, so the
	// secret is shown to the manager who approved and nobody else.
	return protectAndShow(env, r, *recipientKey, *sheet, *asJSON)
}

func runRequestDeny(env *Env, args []string) int {
	f := NewFlags()
	asJSON, reason := f.Bool("json"), f.String("reason")
	id, ok := oneID(env, f, "deny", args)
	if !ok {
		return ExitUsage
	}
	if !f.IsSet("reason") {
		return env.UsageError("request", "request deny: --reason is required")
	}
	r, err := env.Core.Deny(env.Actor, id, *reason)
	if err != nil {
		return fail(env, core.ActionRequestDeny, err)
	}
	return stepDone(env, *asJSON, r)
}

func runRequestProvide(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	recip, agency, idDoc, ref, date := f.String("recipient"), f.String("agency"), f.String("id-doc"), f.String("written-ref"), f.String("date")
	medium := f.String("medium")
	id, ok := oneID(env, f, "provide", args)
	if !ok {
		return ExitUsage
	}
	for _, req := range []string{"recipient", "agency", "id-doc"} {
		if !f.IsSet(req) {
			return env.UsageError("request", "request provide: --"+req+" is required")
		}
	}
	p := core.Provision{Recipient: *recip, Agency: *agency, IDDocType: *idDoc, WrittenRef: *ref, Medium: *medium}
	if *date != "" {
		var err error
		if p.Date, err = ParseTime("date", *date); err != nil {
			return env.UsageError("request", err.Error())
		}
	}
	r, err := env.Core.RecordProvision(env.Actor, id, p)
	if err != nil {
		return fail(env, core.ActionRequestProvide, err)
	}
	return stepDone(env, *asJSON, r)
}

func runRequestClose(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := oneID(env, f, "close", args)
	if !ok {
		return ExitUsage
	}
	r, err := env.Core.CloseRequest(env.Actor, id)
	if err != nil {
		return fail(env, core.ActionRequestClose, err)
	}
	return stepDone(env, *asJSON, r)
}

func stateLabel(env *Env, s core.RequestState) string {
	if env.Lang == LangJA {
		return core.StateLabel(s, LangJA) + " (" + string(s) + ")"
	}
	return dash(string(s))
}

// purposeLabel and groundLabel are the policy profile's words, as the
// forms print them.
func purposeLabel(env *Env, p string) string {
	if env.Lang == LangJA {
		return env.Core.Policy().PurposeLabel(p, LangJA) + " (" + p + ")"
	}
	return dash(p)
}

func groundLabel(env *Env, g string) string {
	if env.Lang == LangJA {
		return env.Core.Policy().GroundLabel(g, LangJA) + " (" + g + ")"
	}
	return dash(env.Core.Policy().GroundLabel(g, LangEN) + " (" + g + ")")
}

func outcomeLabel(env *Env, o string) string {
	if env.Lang == LangJA {
		return core.CodeLabel("outcome", o, LangJA) + " (" + o + ")"
	}
	return dash(o)
}

// ParseRanges reads "cam1=T1/T2,cam2=T1/T2" (RFC 3339 times): footage
// found or approved per camera. Empty gives none.
func ParseRanges(s string) ([]core.FoundRange, error) {
	var out []core.FoundRange
	for _, part := range splitList(s) {
		cam, span, ok := strings.Cut(part, "=")
		from, to, ok2 := strings.Cut(span, "/")
		if !ok || !ok2 || strings.TrimSpace(cam) == "" {
			return nil, fmt.Errorf("--range: %q is not CAMERA=FROM/TO (e.g. cam1=2026-01-02T10:03:00+09:00/2026-01-02T10:05:00+09:00)", part)
		}
		f, err := ParseTime("range", strings.TrimSpace(from))
		if err != nil {
			return nil, err
		}
		t, err := ParseTime("range", strings.TrimSpace(to))
		if err != nil {
			return nil, err
		}
		out = append(out, core.FoundRange{Camera: strings.TrimSpace(cam), From: f, To: t})
	}
	return out, nil
}

// fmtRanges is ranges for people: "cam1 10:03:00–10:05:00" in the
// session's zone, one per line.
func fmtRanges(env *Env, rs []core.FoundRange) string {
	if len(rs) == 0 {
		return "-"
	}
	parts := make([]string, len(rs))
	for i, g := range rs {
		parts[i] = clean(g.Camera) + " " + env.Time(g.From) + " – " + env.Time(g.To)
	}
	return strings.Join(parts, "; ")
}

// runRequestGrounds lists the policy's grounds for provision.
func runRequestGrounds(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("request", errText(err, pos))
	}
	p := env.Core.Policy()
	type groundJSON struct {
		Code         string `json:"code"`
		Ja           string `json:"ja"`
		En           string `json:"en"`
		Clause       string `json:"clause"`
		NeedsNote    bool   `json:"needs_note"`
		NeedsConsent bool   `json:"needs_consent"`
	}
	if *asJSON {
		out := []groundJSON{}
		for _, g := range p.Grounds {
			out = append(out, groundJSON{g.Code, g.Ja, g.En, p.Regulation + " " + g.Cite, g.NeedsNote, g.NeedsConsent})
		}
		return env.JSON(out)
	}
	t := newTable()
	t.row(env.T("GROUND", "根拠"), env.T("CLAUSE", "条項"), env.T("MEANING", "内容"), env.T("ALSO NEEDS", "必要な記録"))
	for _, g := range p.Grounds {
		var needs []string
		if g.NeedsNote {
			needs = append(needs, "--ground-note")
		}
		if g.NeedsConsent {
			needs = append(needs, "--consent")
		}
		t.row(g.Code, p.Regulation+" "+g.Cite, g.Text(env.Lang), dash(strings.Join(needs, " ")))
	}
	t.write(env.Stdout)
	return ExitOK
}

func labelled(env *Env, v string, ja map[string]string) string {
	if env.Lang == LangJA {
		if j, ok := ja[v]; ok {
			return j + " (" + v + ")"
		}
	}
	return dash(v)
}

// printRequest shows every field of form 2, the search result (form 3),
// the decision, the export, the provision and the whole history.
func printRequest(env *Env, r core.Request) {
	t := newTable()
	row := func(en, ja, v string) { t.row(env.T(en, ja), v) }
	row("request", "申請番号", clean(r.ID))
	row("state", "状態", stateLabel(env, r.State))
	row("received", "受付日時", env.Time(r.ReceivedAt))
	row("agency", "申請機関", dash(r.Agency))
	row("address", "所在地", dash(r.ApplicantAddress))
	row("representative", "代表者", dash(r.Representative))
	row("contact", "担当者", dash(r.ContactPerson))
	row("phone", "電話番号", dash(r.Phone))
	row("purpose", "利用目的", purposeLabel(env, r.Purpose))
	row("purpose reason", "目的の理由", dash(r.PurposeReason))
	row("legal ground", "根拠", groundLabel(env, r.Ground))
	row("ground note", "根拠の補足", dash(r.GroundNote))
	if r.Consent != "" {
		row("consent", "本人の同意", clean(r.Consent))
	}
	row("cameras", "カメラ", dash(strings.Join(r.Cameras, ", ")))
	row("from", "開始", env.Time(r.From))
	row("to", "終了", env.Time(r.To))
	row("notes", "備考", dash(r.Notes))
	row("written request", "文書番号", dash(r.WrittenRef))
	row("registered by", "受付者", dash(r.CreatedBy))
	row("registered at", "登録日時", env.Time(r.CreatedAt))
	row("holds", "保全", dash(strings.Join(r.HoldIDs, ", ")))
	row("assigned operator", "検索担当者", dash(r.AssignedOperator))
	if res := r.Result; res != nil {
		row("search result", "検索結果", outcomeLabel(env, res.Outcome))
		row("result note", "結果の内容", dash(res.Note))
		row("searched by", "検索者", dash(res.By)+"  "+env.Time(res.At))
		row("found ranges", "検出した範囲", fmtRanges(env, r.FoundRanges()))
	}
	if d := r.Decision; d != nil {
		dec := env.T("denied", "不承認")
		if d.Approved {
			dec = env.T("approved", "承認")
		}
		row("decision", "判断", dec)
		row("decided by", "判断者", dash(d.By)+"  "+env.Time(d.At))
		if d.Reason != "" {
			row("decision reason", "理由", clean(d.Reason))
		}
		if d.Judgement != "" {
			row("judgement", "判断の理由", clean(d.Judgement))
		}
		if d.Approved {
			row("approved ranges", "承認した範囲", fmtRanges(env, r.ApprovedRanges()))
		}
	}
	if p := r.Protection; p != nil {
		row("package protection", "パッケージの保護", protectionLabel(env, p.Method)+"  "+clean(p.KeyID))
	}
	if e := r.Export; e != nil {
		row("export package", "書出しパッケージ", dash(e.Path))
		row("manifest SHA-256", "マニフェスト SHA-256", dash(e.ManifestHash))
		row("exported by", "書出し者", dash(e.By)+"  "+env.Time(e.At))
		for _, fl := range e.Files {
			row("  file", "  ファイル", fmt.Sprintf("%s  %s  %s  %s", clean(fl.Name), dash(fl.Camera),
				humanBytes(fl.Bytes), clean(fl.SHA256)))
		}
	}
	if p := r.Provision; p != nil {
		row("provided to", "提供先", dash(p.Recipient))
		row("recipient agency", "提供先機関", dash(p.Agency))
		row("identity document", "本人確認書類", dash(p.IDDocType))
		row("medium", "記録媒体", dash(p.Medium))
		row("written request", "文書番号", dash(p.WrittenRef))
		row("provided on", "提供日", env.Time(p.Date))
		row("recorded by", "記録者", dash(p.By)+"  "+env.Time(p.At))
	}
	t.write(env.Stdout)
	fmt.Fprintln(env.Stdout)
	fmt.Fprintln(env.Stdout, env.T("history:", "経過:"))
	h := newTable()
	h.row("  #", env.T("TIME", "日時"), env.T("STEP", "段階"), env.T("BY", "実施者"), env.T("NOTE", "備考"))
	for i, tr := range r.History {
		h.row("  "+strconv.Itoa(i+1), env.Time(tr.At), stateLabel(env, tr.State), dash(tr.By), dash(tr.Note))
	}
	h.write(env.Stdout)
}

// Machine output: snake_case, times in UTC RFC 3339.

type resultJSON struct {
	Outcome string      `json:"outcome"`
	Note    string      `json:"note,omitempty"`
	By      string      `json:"by"`
	At      string      `json:"at"`
	Found   []rangeJSON `json:"found"`
}

type decisionJSON struct {
	Approved  bool        `json:"approved"`
	By        string      `json:"by"`
	At        string      `json:"at"`
	Reason    string      `json:"reason,omitempty"`
	Judgement string      `json:"judgement,omitempty"`
	Ranges    []rangeJSON `json:"ranges,omitempty"`
}

type rangeJSON struct {
	Camera string `json:"camera"`
	From   string `json:"from"`
	To     string `json:"to"`
}

func toRangesJSON(rs []core.FoundRange) []rangeJSON {
	out := make([]rangeJSON, 0, len(rs))
	for _, g := range rs {
		out = append(out, rangeJSON{Camera: g.Camera, From: jsonTime(g.From), To: jsonTime(g.To)})
	}
	return out
}

type exportFileJSON struct {
	Name   string `json:"name"`
	Camera string `json:"camera,omitempty"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

type exportJSON struct {
	Path           string           `json:"path"`
	Files          []exportFileJSON `json:"files"`
	ManifestSHA256 string           `json:"manifest_sha256"`
	By             string           `json:"by"`
	At             string           `json:"at"`

	PackageSHA256 string `json:"package_sha256,omitempty"`
	PackageBytes  int64  `json:"package_bytes,omitempty"`
	Protection    string `json:"protection,omitempty"`
	KeyID         string `json:"key_id,omitempty"`
	ErasedAt      string `json:"erased_at,omitempty"` // the appliance's copy was erased then
	EraseReason   string `json:"erase_reason,omitempty"`
}

type provisionJSON struct {
	Recipient  string `json:"recipient"`
	Agency     string `json:"agency"`
	IDDoc      string `json:"id_doc"`
	Date       string `json:"date"`
	WrittenRef string `json:"written_ref,omitempty"`
	By         string `json:"by"`
	At         string `json:"at"`
	Medium     string `json:"medium,omitempty"`
}

type transitionJSON struct {
	State string `json:"state"`
	By    string `json:"by"`
	At    string `json:"at"`
	Note  string `json:"note,omitempty"`
}

type requestJSON struct {
	ID               string           `json:"id"`
	State            string           `json:"state"`
	ReceivedAt       string           `json:"received_at"`
	Agency           string           `json:"agency"`
	Address          string           `json:"address"`
	Representative   string           `json:"representative"`
	Contact          string           `json:"contact"`
	Phone            string           `json:"phone"`
	Purpose          string           `json:"purpose"`
	PurposeReason    string           `json:"purpose_reason,omitempty"`
	Ground           string           `json:"ground"`
	GroundNote       string           `json:"ground_note,omitempty"`
	Cameras          []string         `json:"cameras"`
	From             string           `json:"from"`
	To               string           `json:"to"`
	Notes            string           `json:"notes,omitempty"`
	WrittenRef       string           `json:"written_ref,omitempty"`
	Consent          string           `json:"consent,omitempty"`
	AssignedOperator string           `json:"assigned_operator,omitempty"`
	Result           *resultJSON      `json:"result,omitempty"`
	Decision         *decisionJSON    `json:"decision,omitempty"`
	Export           *exportJSON      `json:"export,omitempty"`
	Provision        *provisionJSON   `json:"provision,omitempty"`
	HoldIDs          []string         `json:"hold_ids"`
	CreatedBy        string           `json:"created_by"`
	CreatedAt        string           `json:"created_at"`
	History          []transitionJSON `json:"history"`

	RecipientKey  string          `json:"recipient_key,omitempty"`
	Protection    *protectionJSON `json:"protection,omitempty"`
	PackageSecret string          `json:"package_secret,omitempty"` // only in the answer that made it
}

func toRequestJSON(r core.Request) requestJSON {
	out := requestJSON{ID: r.ID, State: string(r.State), ReceivedAt: jsonTime(r.ReceivedAt), Agency: r.Agency,
		Address: r.ApplicantAddress, Representative: r.Representative, Contact: r.ContactPerson, Phone: r.Phone,
		Purpose: r.Purpose, PurposeReason: r.PurposeReason, Ground: r.Ground, GroundNote: r.GroundNote,
		Cameras: append([]string{}, r.Cameras...), From: jsonTime(r.From), To: jsonTime(r.To), Notes: r.Notes,
		WrittenRef: r.WrittenRef, Consent: r.Consent, AssignedOperator: r.AssignedOperator, HoldIDs: append([]string{}, r.HoldIDs...),
		CreatedBy: r.CreatedBy, CreatedAt: jsonTime(r.CreatedAt), History: []transitionJSON{}}
	if res := r.Result; res != nil {
		out.Result = &resultJSON{Outcome: res.Outcome, Note: res.Note, By: res.By, At: jsonTime(res.At),
			Found: toRangesJSON(r.FoundRanges())}
	}
	if d := r.Decision; d != nil {
		out.Decision = &decisionJSON{Approved: d.Approved, By: d.By, At: jsonTime(d.At), Reason: d.Reason,
			Judgement: d.Judgement, Ranges: toRangesJSON(r.ApprovedRanges())}
	}
	if e := r.Export; e != nil {
		out.Export = toExportJSON(*e)
	}
	if p := r.Provision; p != nil {
		out.Provision = &provisionJSON{Recipient: p.Recipient, Agency: p.Agency, IDDoc: p.IDDocType,
			Date: jsonTime(p.Date), WrittenRef: p.WrittenRef, By: p.By, At: jsonTime(p.At), Medium: p.Medium}
	}
	for _, tr := range r.History {
		out.History = append(out.History, transitionJSON{State: string(tr.State), By: tr.By, At: jsonTime(tr.At), Note: tr.Note})
	}
	out.RecipientKey = r.RecipientKey
	if p := r.Protection; p != nil {
		out.Protection = &protectionJSON{Method: p.Method, Recipient: p.Recipient, KeyID: p.KeyID, By: p.By, At: jsonTime(p.At)}
	}
	return out
}

func toExportJSON(e core.ExportRecord) *exportJSON {
	out := &exportJSON{Path: e.Path, ManifestSHA256: e.ManifestHash, By: e.By, At: jsonTime(e.At), Files: []exportFileJSON{},
		PackageSHA256: e.PackageSHA256, PackageBytes: e.PackageBytes, Protection: e.Protection, KeyID: e.KeyID,
		ErasedAt: jsonTime(e.ErasedAt), EraseReason: e.EraseReason}
	for _, f := range e.Files {
		out.Files = append(out.Files, exportFileJSON{Name: f.Name, Camera: f.Camera, SHA256: f.SHA256, Bytes: f.Bytes})
	}
	return out
}
