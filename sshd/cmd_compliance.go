package sshd

import (
	"fmt"
	"io"
	"strings"

	"mimamori/core"
)

// The regulation's records that are not requests: the camera register's
// removals, signs and police consultation (000 §4, 001 §2, §8), the
// people behind the keys (000 §5-6, §11; 001 §3), where the recorder is
// kept (000 §7-3, 001 §5-1), layout plans (001 §2-1) and the inspection
// schedule (001 §8-1). Core checks every role and ledgers every change.

const cameraUsage = "remove ID --reason R | sign ID --posted|--removed --performer P [--date T] [--notes N] | " +
	"police ID --date T | show ID   (each takes --json)"

func runCamera(env *Env, args []string) int {
	if len(args) == 0 {
		return env.UsageError("camera", "missing subcommand")
	}
	switch args[0] {
	case "remove":
		return runCameraRemove(env, args[1:])
	case "sign":
		return runCameraSign(env, args[1:])
	case "police":
		return runCameraPolice(env, args[1:])
	case "show":
		return runCameraShow(env, args[1:])
	}
	return env.UsageError("camera", fmt.Sprintf("unknown subcommand %q", args[0]))
}

// runCameraRemove: the manager's decision to stop operating a camera
// (001 §8-2). Recording stops; the register and the footage stay.
func runCameraRemove(env *Env, args []string) int {
	f := NewFlags()
	asJSON, reason := f.Bool("json"), f.String("reason")
	id, ok := idArg(env, f, "camera", "remove", args)
	if !ok {
		return ExitUsage
	}
	if err := env.Core.RemoveCamera(env.Actor, id, *reason); err != nil {
		return failField(env, core.ActionCameraRemove, err)
	}
	return showCamera(env, id, *asJSON)
}

// runCameraSign records a sign put up or taken down (form 1, 000 §4-3;
// 001 §2(2), §8-2): a maintenance record and the register's sign, at once.
func runCameraSign(env *Env, args []string) int {
	f := NewFlags()
	asJSON, posted, removed := f.Bool("json"), f.Bool("posted"), f.Bool("removed")
	performer, dateS, notes := f.String("performer"), f.String("date"), f.String("notes")
	id, ok := idArg(env, f, "camera", "sign", args)
	if !ok {
		return ExitUsage
	}
	if *posted == *removed {
		return env.UsageError("camera", "camera sign: give --posted or --removed")
	}
	in := core.MaintenanceInput{Kind: core.MaintSignPosted, Camera: id, Performer: *performer, Notes: *notes}
	if *removed {
		in.Kind = core.MaintSignRemoval
	}
	if *dateS != "" {
		var err error
		if in.Date, err = ParseTime("date", *dateS); err != nil {
			return env.UsageError("camera", err.Error())
		}
	}
	if _, err := env.Core.RecordMaintenance(env.Actor, in); err != nil {
		return failField(env, core.ActionMaintenance, err)
	}
	return showCamera(env, id, *asJSON)
}

// runCameraPolice records the date the police were consulted about the
// camera's place and need (000 §4-2).
func runCameraPolice(env *Env, args []string) int {
	f := NewFlags()
	asJSON, dateS := f.Bool("json"), f.String("date")
	id, ok := idArg(env, f, "camera", "police", args)
	if !ok {
		return ExitUsage
	}
	date, err := ParseTime("date", *dateS)
	if err != nil {
		return env.UsageError("camera", err.Error())
	}
	c, err := env.Core.Camera(env.Actor, id)
	if err != nil {
		return failField(env, core.ActionCameraUpdate, err)
	}
	c.PoliceConsulted = date
	c.URL = "" // keep the stored stream URL
	if _, err := env.Core.UpdateCamera(env.Actor, c); err != nil {
		return failField(env, core.ActionCameraUpdate, err)
	}
	return showCamera(env, id, *asJSON)
}

func runCameraShow(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := idArg(env, f, "camera", "show", args)
	if !ok {
		return ExitUsage
	}
	return showCamera(env, id, *asJSON)
}

type cameraDetailJSON struct {
	cameraJSON
	SignChangedAt string `json:"sign_changed_at,omitempty"`
	RemovedAt     string `json:"removed_at,omitempty"`
	RemovedReason string `json:"removed_reason,omitempty"`
}

func showCamera(env *Env, id string, asJSON bool) int {
	c, err := env.Core.Camera(env.Actor, id)
	if err != nil {
		return failField(env, core.ActionCamerasRead, err)
	}
	if asJSON {
		return env.JSON(cameraDetailJSON{cameraJSON: cameraJSON{ID: c.ID, Number: c.Number, Name: c.Name, Location: c.Location,
			Direction: c.Direction, URL: safeURL(c.URL), SignPosted: c.SignPosted, PoliceConsulted: jsonTime(c.PoliceConsulted),
			Status: c.Status, CreatedAt: jsonTime(c.CreatedAt), UpdatedAt: jsonTime(c.UpdatedAt)},
			SignChangedAt: jsonTime(c.SignChangedAt), RemovedAt: jsonTime(c.RemovedAt), RemovedReason: c.RemovedReason})
	}
	t := newTable()
	t.row("ID", clean(c.ID))
	t.row(env.T("number", "番号"), dash(c.Number))
	t.row(env.T("name", "名称"), dash(c.Name))
	t.row(env.T("location", "設置箇所"), dash(c.Location))
	t.row(env.T("direction", "撮影方向"), dash(c.Direction))
	t.row(env.T("status", "状態"), codeLabel(env, "camera-status", c.Status))
	t.row(env.T("sign posted", "標識の掲示"), yesNo(env, c.SignPosted)+"  "+env.Time(c.SignChangedAt))
	t.row(env.T("police consulted", "警察署長との協議"), env.Time(c.PoliceConsulted))
	if !c.RemovedAt.IsZero() {
		t.row(env.T("removed", "撤去"), env.Time(c.RemovedAt)+"  "+clean(c.RemovedReason))
	}
	t.write(env.Stdout)
	return ExitOK
}

func yesNo(env *Env, b bool) string {
	if b {
		return env.T("yes", "あり")
	}
	return env.T("no", "なし")
}

// codeLabel is a code in the session's language (with the code itself in
// Japanese, for scripts).
func codeLabel(env *Env, kind, code string) string {
	if env.Lang == LangJA {
		return core.CodeLabel(kind, code, LangJA) + " (" + code + ")"
	}
	return dash(core.CodeLabel(kind, code, LangEN))
}

// People.

const staffUsage = "list | add --name N --role manager|operator|technician --title T --section S --key KEY --pledge | " +
	"set FINGERPRINT --title T --section S | pledge FINGERPRINT | pledge-text | handover FINGERPRINT --reason R   (each takes --json)"

func runStaff(env *Env, args []string) int {
	if len(args) == 0 {
		return env.UsageError("staff", "missing subcommand")
	}
	switch args[0] {
	case "list":
		return runStaffList(env, args[1:])
	case "add":
		return runStaffAdd(env, args[1:])
	case "set":
		return runStaffSet(env, args[1:])
	case "pledge":
		return runStaffPledge(env, args[1:])
	case "pledge-text":
		return runPledgeText(env, args[1:])
	case "handover":
		return runStaffHandover(env, args[1:])
	}
	return env.UsageError("staff", fmt.Sprintf("unknown subcommand %q", args[0]))
}

type staffJSON struct {
	Name          string `json:"name"`
	Role          string `json:"role"`
	Term          string `json:"term"` // the regulation's word for the role
	JobTitle      string `json:"job_title,omitempty"`
	Section       string `json:"section,omitempty"`
	Fingerprint   string `json:"fingerprint"`
	EnrolledAt    string `json:"enrolled_at"`
	EnrolledBy    string `json:"enrolled_by"`
	RevokedAt     string `json:"revoked_at,omitempty"`
	PledgeVersion string `json:"pledge_version,omitempty"`
	PledgeAt      string `json:"pledge_at,omitempty"`
	Missing       string `json:"missing,omitempty"` // what the record lacks
}

func toStaffJSON(env *Env, k core.Key) staffJSON {
	p := env.Core.Policy()
	out := staffJSON{Name: k.Name, Role: k.Role.String(), Term: p.RoleTerm(k.Role), JobTitle: k.JobTitle, Section: k.Section,
		Fingerprint: k.Fingerprint, EnrolledAt: jsonTime(k.EnrolledAt), EnrolledBy: k.EnrolledBy, RevokedAt: jsonTime(k.RevokedAt),
		Missing: strings.Join(p.PersonGaps(k), ",")}
	if k.Pledge != nil {
		out.PledgeVersion, out.PledgeAt = k.Pledge.Version, jsonTime(k.Pledge.At)
	}
	return out
}

func runStaffList(env *Env, args []string) int {
	f := NewFlags()
	asJSON, all := f.Bool("json"), f.Bool("all")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("staff", errText(err, pos))
	}
	keys, err := env.Core.Keys(env.Actor)
	if err != nil {
		return failField(env, core.ActionKeysRead, err)
	}
	now := env.Now()
	var out []staffJSON
	for _, k := range keys {
		if k.Role == core.RoleViewer || (!*all && !k.Active(now)) {
			continue
		}
		out = append(out, toStaffJSON(env, k))
	}
	if *asJSON {
		if out == nil {
			out = []staffJSON{}
		}
		return env.JSON(out)
	}
	t := newTable()
	t.row(env.T("NAME", "氏名"), env.T("ROLE", "役割"), env.T("TITLE", "職名"), env.T("SECTION", "所属"),
		env.T("PLEDGE", "守秘義務の誓約"), env.T("FINGERPRINT", "鍵指紋"))
	for _, s := range out {
		pledge := dash(s.PledgeVersion)
		if s.PledgeAt != "" {
			pledge += " " + s.PledgeAt[:10]
		}
		if s.Missing != "" {
			pledge += "  !" + s.Missing
		}
		role := s.Role
		if env.Lang == LangJA {
			role = s.Term
		}
		t.row(clean(s.Name), role, dash(s.JobTitle), dash(s.Section), pledge, s.Fingerprint)
	}
	t.write(env.Stdout)
	return ExitOK
}

// runStaffAdd enrols a person: key, role, 職名, 所属 and the pledge they
// accepted. Without --pledge the pledge text is printed and nothing is
// enrolled.
func runStaffAdd(env *Env, args []string) int {
	f := NewFlags()
	asJSON, pledged := f.Bool("json"), f.Bool("pledge")
	name, roleS, title, section, key := f.String("name"), f.String("role"), f.String("title"), f.String("section"), f.String("key")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("staff", errText(err, pos))
	}
	role, err := core.ParseRole(*roleS)
	if err != nil {
		return env.UsageError("staff", "--role: "+err.Error())
	}
	if !*pledged && core.Allowed(env.Actor.Role, core.ActionKeyEnroll) {
		printPledge(env)
		fmt.Fprintln(env.Stderr, env.T("the person must read and accept the pledge above: add --pledge once they have",
			"本人が上記の誓約を確認し受諾した後に --pledge を付けて登録してください"))
		return ExitError
	}
	k, err := env.Core.EnrollPerson(env.Actor, core.Enrolment{Name: *name, Role: role, AuthorizedKey: *key,
		JobTitle: *title, Section: *section, Pledged: *pledged})
	if err != nil {
		return failField(env, core.ActionKeyEnroll, err)
	}
	if *asJSON {
		return env.JSON(toStaffJSON(env, k))
	}
	fmt.Fprintln(env.Stdout, k.Fingerprint)
	return ExitOK
}

func runStaffSet(env *Env, args []string) int {
	f := NewFlags()
	asJSON, title, section := f.Bool("json"), f.String("title"), f.String("section")
	fp, ok := idArg(env, f, "staff", "set", args)
	if !ok {
		return ExitUsage
	}
	k, err := env.Core.SetKeyProfile(env.Actor, fp, *title, *section)
	if err != nil {
		return failField(env, core.ActionKeyProfile, err)
	}
	if *asJSON {
		return env.JSON(toStaffJSON(env, k))
	}
	fmt.Fprintln(env.Stdout, k.Fingerprint)
	return ExitOK
}

func runStaffPledge(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	fp, ok := idArg(env, f, "staff", "pledge", args)
	if !ok {
		return ExitUsage
	}
	k, err := env.Core.RecordPledge(env.Actor, fp)
	if err != nil {
		return failField(env, core.ActionPledge, err)
	}
	if *asJSON {
		return env.JSON(toStaffJSON(env, k))
	}
	fmt.Fprintln(env.Stdout, k.Fingerprint)
	return ExitOK
}

func runPledgeText(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("staff", errText(err, pos))
	}
	p := env.Core.Policy().Pledge
	if *asJSON {
		return env.JSON(map[string]string{"version": p.Version, "clause": p.Cite, "text": p.Text})
	}
	printPledge(env)
	return ExitOK
}

func printPledge(env *Env) {
	p := env.Core.Policy()
	fmt.Fprintf(env.Stdout, "%s（%s %s、%s）\n%s\n", env.T("Confidentiality pledge", "守秘義務の誓約"),
		p.Regulation, p.Pledge.Cite, p.Pledge.Version, p.Pledge.Text)
}

func runStaffHandover(env *Env, args []string) int {
	f := NewFlags()
	asJSON, reason := f.Bool("json"), f.String("reason")
	fp, ok := idArg(env, f, "staff", "handover", args)
	if !ok {
		return ExitUsage
	}
	k, err := env.Core.HandOverManager(env.Actor, fp, *reason)
	if err != nil {
		return failField(env, core.ActionKeyRoleChange, err)
	}
	if *asJSON {
		return env.JSON(toStaffJSON(env, k))
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", clean(k.Name), env.Core.Policy().RoleTerm(core.RoleManager))
	return ExitOK
}

// Custody of the recorder.

const custodyUsage = "set --location L --cabinet C --key-holder K --anti-removal A [--since T] [--notes N] | show   (each takes --json)"

type custodyJSON struct {
	ID          string `json:"id"`
	Location    string `json:"location"`
	Cabinet     string `json:"cabinet"`
	KeyHolder   string `json:"key_holder"`
	AntiRemoval string `json:"anti_removal"`
	Notes       string `json:"notes,omitempty"`
	Since       string `json:"since"`
	CreatedBy   string `json:"created_by"`
	CreatedAt   string `json:"created_at"`
}

func toCustodyJSON(c core.CustodyRecord) custodyJSON {
	return custodyJSON{ID: c.ID, Location: c.Location, Cabinet: c.Cabinet, KeyHolder: c.KeyHolder, AntiRemoval: c.AntiRemoval,
		Notes: c.Notes, Since: jsonTime(c.Since), CreatedBy: c.CreatedBy, CreatedAt: jsonTime(c.CreatedAt)}
}

func runCustody(env *Env, args []string) int {
	if len(args) == 0 {
		return env.UsageError("custody", "missing subcommand")
	}
	f := NewFlags()
	asJSON := f.Bool("json")
	switch args[0] {
	case "set":
		loc, cab, holder, anti := f.String("location"), f.String("cabinet"), f.String("key-holder"), f.String("anti-removal")
		since, notes := f.String("since"), f.String("notes")
		if pos, err := f.Parse(args[1:]); err != nil || len(pos) > 0 {
			return env.UsageError("custody", errText(err, pos))
		}
		in := core.CustodyInput{Location: *loc, Cabinet: *cab, KeyHolder: *holder, AntiRemoval: *anti, Notes: *notes}
		if *since != "" {
			var err error
			if in.Since, err = ParseTime("since", *since); err != nil {
				return env.UsageError("custody", err.Error())
			}
		}
		c, err := env.Core.RecordCustody(env.Actor, in)
		if err != nil {
			return failField(env, core.ActionCustody, err)
		}
		if *asJSON {
			return env.JSON(toCustodyJSON(c))
		}
		fmt.Fprintln(env.Stdout, c.ID)
		return ExitOK
	case "show":
		if pos, err := f.Parse(args[1:]); err != nil || len(pos) > 0 {
			return env.UsageError("custody", errText(err, pos))
		}
		cs, err := env.Core.Custody(env.Actor)
		if err != nil {
			return failField(env, core.ActionMaintenanceRead, err)
		}
		if *asJSON {
			out := []custodyJSON{}
			for _, c := range cs {
				out = append(out, toCustodyJSON(c))
			}
			return env.JSON(out)
		}
		if len(cs) == 0 {
			fmt.Fprintln(env.Stdout, env.T("no custody record", "保管状況の記録はありません"))
			return ExitOK
		}
		t := newTable()
		t.row("ID", env.T("SINCE", "開始"), env.T("LOCATION", "設置場所"), env.T("CABINET", "保管庫"),
			env.T("KEY HOLDER", "鍵の管理者"), env.T("AGAINST REMOVAL", "持出し防止"), env.T("BY", "記録者"))
		for _, c := range cs {
			t.row(clean(c.ID), env.Time(c.Since), clean(c.Location), clean(c.Cabinet), clean(c.KeyHolder),
				clean(c.AntiRemoval), clean(c.CreatedBy))
		}
		t.write(env.Stdout)
		return ExitOK
	}
	return env.UsageError("custody", fmt.Sprintf("unknown subcommand %q", args[0]))
}

// Layout plans.

const layoutUsage = "add --site S --file NAME [--cameras c1,c2] [--notes N]   (the file on stdin) | list | get ID   (the file on stdout)"

type layoutJSON struct {
	ID        string   `json:"id"`
	Site      string   `json:"site"`
	File      string   `json:"file"`
	SHA256    string   `json:"sha256"`
	Bytes     int64    `json:"bytes"`
	Cameras   []string `json:"cameras"`
	Notes     string   `json:"notes,omitempty"`
	CreatedBy string   `json:"created_by"`
	CreatedAt string   `json:"created_at"`
}

func toLayoutJSON(p core.LayoutPlan) layoutJSON {
	return layoutJSON{ID: p.ID, Site: p.Site, File: p.FileName, SHA256: p.SHA256, Bytes: p.Bytes,
		Cameras: append([]string{}, p.Cameras...), Notes: p.Notes, CreatedBy: p.CreatedBy, CreatedAt: jsonTime(p.CreatedAt)}
}

func runLayout(env *Env, args []string) int {
	if len(args) == 0 {
		return env.UsageError("layout", "missing subcommand")
	}
	f := NewFlags()
	asJSON := f.Bool("json")
	switch args[0] {
	case "add":
		site, file, cams, notes := f.String("site"), f.String("file"), f.String("cameras"), f.String("notes")
		if pos, err := f.Parse(args[1:]); err != nil || len(pos) > 0 {
			return env.UsageError("layout", errText(err, pos))
		}
		var body []byte
		if core.Allowed(env.Actor.Role, core.ActionLayoutPlan) {
			b, err := io.ReadAll(io.LimitReader(env.Stdin, core.MaxLayoutPlanBytes+1))
			if err != nil {
				return env.Fail(core.ActionLayoutPlan, err)
			}
			body = b
		}
		p, err := env.Core.FileLayoutPlan(env.Actor, core.LayoutInput{Site: *site, FileName: *file, Content: body,
			Cameras: splitList(*cams), Notes: *notes})
		if err != nil {
			return failField(env, core.ActionLayoutPlan, err)
		}
		if *asJSON {
			return env.JSON(toLayoutJSON(p))
		}
		fmt.Fprintln(env.Stdout, p.ID+"  sha256:"+p.SHA256)
		return ExitOK
	case "list":
		if pos, err := f.Parse(args[1:]); err != nil || len(pos) > 0 {
			return env.UsageError("layout", errText(err, pos))
		}
		ps, err := env.Core.LayoutPlans(env.Actor)
		if err != nil {
			return failField(env, core.ActionMaintenanceRead, err)
		}
		if *asJSON {
			out := []layoutJSON{}
			for _, p := range ps {
				out = append(out, toLayoutJSON(p))
			}
			return env.JSON(out)
		}
		if len(ps) == 0 {
			fmt.Fprintln(env.Stdout, env.T("no layout plans", "配置図はありません"))
			return ExitOK
		}
		t := newTable()
		t.row("ID", env.T("SITE", "場所"), env.T("FILE", "ファイル"), env.T("SIZE", "容量"), env.T("CAMERAS", "カメラ"),
			env.T("FILED", "登録"), "SHA-256")
		for _, p := range ps {
			t.row(clean(p.ID), clean(p.Site), clean(p.FileName), humanBytes(p.Bytes), dash(strings.Join(p.Cameras, ",")),
				env.Time(p.CreatedAt), p.SHA256)
		}
		t.write(env.Stdout)
		return ExitOK
	case "get":
		id, ok := idArg(env, f, "layout", "get", args[1:])
		if !ok {
			return ExitUsage
		}
		_, body, err := env.Core.LayoutPlanFile(env.Actor, id)
		if err != nil {
			return failField(env, core.ActionMaintenanceRead, err)
		}
		if _, err := env.Stdout.Write(body); err != nil {
			return env.Fail("", err)
		}
		return ExitOK
	}
	return env.UsageError("layout", fmt.Sprintf("unknown subcommand %q", args[0]))
}

// Inspection schedule and what the records lack.

type inspectionJSON struct {
	Camera string `json:"camera"`
	Last   string `json:"last"`
	Due    string `json:"due"`
	State  string `json:"state"` // ok, due, overdue
}

func runInspections(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("inspections", errText(err, pos))
	}
	ds, err := env.Core.InspectionSchedule(env.Actor)
	if err != nil {
		return failField(env, core.ActionMaintenanceRead, err)
	}
	if *asJSON {
		out := []inspectionJSON{}
		for _, d := range ds {
			out = append(out, inspectionJSON{Camera: d.Camera, Last: jsonTime(d.Last), Due: jsonTime(d.Due), State: d.State})
		}
		return env.JSON(out)
	}
	days := env.Core.Policy().InspectionIntervalDays
	if days <= 0 {
		fmt.Fprintln(env.Stdout, env.T("the policy sets no inspection schedule", "この規定では定期点検の周期が定められていません"))
		return ExitOK
	}
	fmt.Fprintf(env.Stdout, env.T("inspection every %d days\n", "定期点検の周期: %d 日\n"), days)
	t := newTable()
	t.row(env.T("CAMERA", "カメラ"), env.T("LAST", "前回"), env.T("DUE", "期限"), env.T("STATE", "状態"))
	for _, d := range ds {
		t.row(clean(d.Camera), env.Time(d.Last), env.Time(d.Due), inspectionLabel(env, d.State))
	}
	t.write(env.Stdout)
	return ExitOK
}

func inspectionLabel(env *Env, state string) string {
	switch state {
	case core.InspectionOverdue:
		return env.T("OVERDUE", "期限超過")
	case core.InspectionDueSoonState:
		return env.T("due soon", "期限間近")
	}
	return env.T("ok", "済")
}

type warningJSON struct {
	Code    string `json:"code"`
	Subject string `json:"subject,omitempty"`
	Clause  string `json:"clause"`
	Text    string `json:"text"`
}

func toWarningsJSON(env *Env, ws []core.Warning) []warningJSON {
	out := []warningJSON{}
	for _, w := range ws {
		out = append(out, warningJSON{Code: w.Code, Subject: w.Subject, Clause: w.Clause, Text: w.Text.Text(env.Lang)})
	}
	return out
}

// printWarnings writes what the records lack, one line each ("" if none).
func printWarnings(env *Env, ws []core.Warning) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintln(env.Stdout, env.T("compliance warnings:", "規定上の確認事項:"))
	for _, w := range ws {
		fmt.Fprintf(env.Stdout, "  ! [%s] %s\n", w.Clause, clean(w.Text.Text(env.Lang)))
	}
}

func runCompliance(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("compliance", errText(err, pos))
	}
	ws, err := env.Core.ComplianceWarnings(env.Actor)
	if err != nil {
		return failField(env, core.ActionHealthRead, err)
	}
	if *asJSON {
		return env.JSON(toWarningsJSON(env, ws))
	}
	if len(ws) == 0 {
		fmt.Fprintln(env.Stdout, env.T("nothing the regulation expects is missing from the records", "規定上の確認事項はありません"))
		return ExitOK
	}
	printWarnings(env, ws)
	return ExitOK
}

// ComplianceCommands are the commands of this file, for BuiltinCommands.
func complianceCommands() []Command {
	return []Command{
		{Name: "camera", Usage: cameraUsage, Summary: "camera register: removal, signs, police consultation", SummaryJa: "カメラ台帳 (撤去・標識・警察署長との協議)", Run: runCamera, Access: access(core.ActionCamerasRead, map[string]core.Action{
			"remove": core.ActionCameraRemove, "sign": core.ActionMaintenance, "police": core.ActionCameraUpdate, "show": core.ActionCamerasRead})},
		{Name: "staff", Usage: staffUsage, Summary: "people: job title, section, confidentiality pledge, manager handover", SummaryJa: "担当者 (職名・所属・守秘義務の誓約・管理責任者の引継ぎ)", Run: runStaff, Access: access(core.ActionKeysRead, map[string]core.Action{
			"list": core.ActionKeysRead, "add": core.ActionKeyEnroll, "set": core.ActionKeyProfile, "pledge": core.ActionPledge,
			"pledge-text": core.ActionLogin, "handover": core.ActionKeyRoleChange})},
		{Name: "custody", Usage: custodyUsage, Summary: "where the recorder is kept, cabinet and key holder", SummaryJa: "記録装置の保管 (設置場所・保管庫・鍵の管理者)", Run: runCustody, Access: access(core.ActionMaintenanceRead, map[string]core.Action{
			"set": core.ActionCustody, "show": core.ActionMaintenanceRead})},
		{Name: "layout", Usage: layoutUsage, Summary: "layout plans of the sites (配置図)", SummaryJa: "配置図の登録・一覧・取出し", Run: runLayout, Access: access(core.ActionMaintenanceRead, map[string]core.Action{
			"add": core.ActionLayoutPlan, "list": core.ActionMaintenanceRead, "get": core.ActionMaintenanceRead})},
		{Name: "inspections", Usage: "[--json]", Summary: "periodic inspection schedule: due and overdue", SummaryJa: "定期点検の予定 (期限・期限超過)", Run: runInspections, Access: access(core.ActionMaintenanceRead, nil)},
		{Name: "compliance", Usage: "[--json]", Summary: "what the regulation expects that the records lack", SummaryJa: "規定上の確認事項 (標識・協議・点検・保管など)", Run: runCompliance, Access: access(core.ActionHealthRead, nil)},
	}
}
