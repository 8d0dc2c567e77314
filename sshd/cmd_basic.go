package sshd

import (
	"fmt"
	"net/url"
	"time"

	"mimamori/core"
)

// BuiltinCommands are the script commands sshd itself provides.
func BuiltinCommands() []Command {
	return append([]Command{
		{Name: "help", Summary: "list commands", SummaryJa: "コマンド一覧", Run: runHelp, Access: access(core.ActionLogin, nil)},
		{Name: "whoami", Usage: "[--json]", Summary: "who you are logged in as", SummaryJa: "ログイン中の利用者と役割", Run: runWhoami, Access: access(core.ActionLogin, nil)},
		{Name: "health", Usage: "[--json]", Summary: "storage and camera health", SummaryJa: "ストレージとカメラの状態", Run: runHealth, Access: access(core.ActionHealthRead, nil)},
		{Name: "cameras", Usage: "[--json]", Summary: "camera register", SummaryJa: "カメラ台帳", Run: runCameras, Access: access(core.ActionCamerasRead, nil)},
		{Name: "recordings", Usage: "CAMERA --from T --to T [--json]", Summary: "recorded spans of a camera", SummaryJa: "カメラの録画区間", Run: runRecordings, Access: access(core.ActionRecordingsRead, nil)},
		{Name: "request", Usage: requestUsage, Summary: "police requests: register, instruct, result, approve/deny, export, provide, close", SummaryJa: "外部提供の申請 (受付・検索指示・結果・承認/不承認・書出し・提供・完了)", Run: runRequest, Access: requestAccess},
		{Name: "hold", Usage: holdUsage, Summary: "retention holds: add, list, release", SummaryJa: "保存期間の延長 (保全) の設定・一覧・解除", Run: runHold, Access: access(core.ActionHoldsRead, map[string]core.Action{
			"add": core.ActionHoldAdd, "list": core.ActionHoldsRead, "release": core.ActionHoldRelease})},
		{Name: "export-passphrase", Usage: "set | clear   (set: new passphrase on stdin)", Summary: "the manager's lock on exports: set or clear the export passphrase", SummaryJa: "書出しパスワード（管理責任者の書出し錠）の設定・解除", Run: runExportPassphrase, Access: access(core.ActionExportPassphrase, nil)},
		{Name: "ledger", Usage: "[--machine|--all] [--json] [--since SEQ] [--limit N] | ledger verify [--json] | ledger checkpoint [--json] | ledger --csv [--machine|--all]", Summary: "the ledger (people's acts; --machine: the appliance's records), verify it, or its signed checkpoint", SummaryJa: "操作記録簿の表示・検証・署名付きチェックポイント", Run: runLedger, Access: access(core.ActionLedgerRead, map[string]core.Action{
			"verify": core.ActionLedgerVerify, "checkpoint": core.ActionLedgerCheckpoint,
			"export": core.ActionLedgerExport, "--csv": core.ActionLedgerExport})},
		{Name: "form", Usage: formUsage, Summary: "print the sign (form 1), form 2 (application), form 3 (search ledger) or the handover receipt as HTML", SummaryJa: "form 1 標識・form 2 申請書・form 3 検索簿・受領書を HTML で出力", Run: runForm, Access: access(core.ActionFormIssue, map[string]core.Action{
			"1": core.ActionCamerasRead, "form1": core.ActionCamerasRead, "2": core.ActionFormIssue, "form2": core.ActionFormIssue,
			"3": core.ActionFormIssue, "form3": core.ActionFormIssue, "receipt": core.ActionRequestsRead})},
		{Name: "grant", Usage: grantUsage, Summary: "temporary viewer grants: add, list, revoke", SummaryJa: "一時閲覧者の許可 (付与・一覧・取消)", Run: runGrant, Access: access(core.ActionGrantsRead, map[string]core.Action{
			"add": core.ActionViewerGrant, "list": core.ActionGrantsRead, "revoke": core.ActionViewerRevoke})},
		{Name: "inquiry", Usage: inquiryUsage, Summary: "inquiries and complaints: add, answer, close, show, list", SummaryJa: "問い合わせ・苦情 (受付・回答・完了・表示・一覧)", Run: runInquiry, Access: access(core.ActionInquiriesRead, map[string]core.Action{
			"add": core.ActionInquiryRegister, "answer": core.ActionInquiryAnswer, "close": core.ActionInquiryClose,
			"show": core.ActionInquiriesRead, "list": core.ActionInquiriesRead})},
		{Name: "maintenance", Usage: maintenanceUsage, Summary: "inspections, replacement, removal, media disposal", SummaryJa: "保守点検・交換・撤去・記録媒体の廃棄", Run: runMaintenance, Access: access(core.ActionMaintenanceRead, map[string]core.Action{
			"add": core.ActionMaintenance, "list": core.ActionMaintenanceRead})},
		{Name: "backup", Usage: backupUsage, Summary: "manager: consistent snapshot of the database on stdout", SummaryJa: "データベースの一貫したバックアップを標準出力へ (管理責任者)", Run: runBackup, Access: access(core.ActionBackup, nil)},
	}, complianceCommands()...)
}

// access builds a Command.Access table: base for the command and every
// subcommand not in subs.
func access(base core.Action, subs map[string]core.Action) map[string]core.Action {
	out := map[string]core.Action{"": base}
	for k, v := range subs {
		out[k] = v
	}
	return out
}

func runHelp(env *Env, args []string) int {
	if env.Commands != nil {
		env.Commands.printUsage(env, env.Stdout)
	}
	return ExitOK
}

// roleLabel names a role; in Japanese with the regulation's own word
// (取扱担当者 under 000, 操作担当者 under 001).
func roleLabel(lang string, p core.Policy, r core.Role) string {
	if lang != LangJA {
		return r.String()
	}
	if t := p.RoleTerm(r); t != "" && t != r.String() {
		return r.String() + " (" + t + ")"
	}
	return r.String()
}

type whoamiJSON struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	Fingerprint string `json:"fingerprint"`
	Session     string `json:"session,omitempty"`
	Remote      string `json:"remote,omitempty"`
}

func runWhoami(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("whoami", errText(err, pos))
	}
	if *asJSON {
		return env.JSON(whoamiJSON{Name: env.Actor.Name, Role: env.Actor.Role.String(),
			Fingerprint: env.Actor.Fingerprint, Session: env.SessionID, Remote: env.Remote})
	}
	t := newTable()
	t.row(env.T("name", "名前"), dash(env.Actor.Name))
	t.row(env.T("role", "役割"), roleLabel(env.Lang, env.Core.Policy(), env.Actor.Role))
	t.row(env.T("fingerprint", "鍵指紋"), env.Actor.Fingerprint)
	if env.SessionID != "" {
		t.row(env.T("session", "セッション"), env.SessionID)
	}
	if env.Remote != "" {
		t.row(env.T("from", "接続元"), env.Remote)
	}
	t.write(env.Stdout)
	return ExitOK
}

func errText(err error, extra []string) string {
	if err != nil {
		return err.Error()
	}
	if len(extra) > 0 {
		return fmt.Sprintf("unexpected argument %q", extra[0])
	}
	return ""
}

type cameraJSON struct {
	ID              string `json:"id"`
	Number          string `json:"number,omitempty"`
	Name            string `json:"name"`
	Location        string `json:"location,omitempty"`
	Direction       string `json:"direction,omitempty"`
	URL             string `json:"url,omitempty"`
	SignPosted      bool   `json:"sign_posted"`
	PoliceConsulted string `json:"police_consulted,omitempty"`
	Status          string `json:"status"`
	CreatedAt       string `json:"created_at,omitempty"`
	UpdatedAt       string `json:"updated_at,omitempty"`
}

// safeURL drops credentials from a stream URL before it is shown.
func safeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil {
			return ""
		}
		return s
	}
	u.User = nil
	return u.String()
}

func runCameras(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("cameras", errText(err, pos))
	}
	cams, err := env.Core.Cameras(env.Actor)
	if err != nil {
		return env.Fail(core.ActionCamerasRead, err)
	}
	if *asJSON {
		out := make([]cameraJSON, 0, len(cams))
		for _, c := range cams {
			out = append(out, cameraJSON{ID: c.ID, Number: c.Number, Name: c.Name, Location: c.Location,
				Direction: c.Direction, URL: safeURL(c.URL), SignPosted: c.SignPosted,
				PoliceConsulted: jsonTime(c.PoliceConsulted), Status: c.Status,
				CreatedAt: jsonTime(c.CreatedAt), UpdatedAt: jsonTime(c.UpdatedAt)})
		}
		return env.JSON(out)
	}
	if len(cams) == 0 {
		fmt.Fprintln(env.Stdout, msg(env.Lang, msgNoCameras))
		return ExitOK
	}
	t := newTable()
	t.row("ID", env.T("NO", "番号"), env.T("NAME", "名称"), env.T("LOCATION", "設置箇所"),
		env.T("DIRECTION", "撮影方向"), env.T("SIGN", "表示"), env.T("STATUS", "状態"))
	for _, c := range cams {
		sign := env.T("no", "なし")
		if c.SignPosted {
			sign = env.T("yes", "あり")
		}
		t.row(clean(c.ID), dash(c.Number), dash(c.Name), dash(c.Location), dash(c.Direction), sign, codeLabel(env, "camera-status", c.Status))
	}
	t.write(env.Stdout)
	return ExitOK
}

type spanJSON struct {
	Camera string  `json:"camera"`
	Start  string  `json:"start"`
	End    string  `json:"end"`
	Secs   float64 `json:"seconds"`
	Bytes  int64   `json:"bytes"`
	// Damaged: recorded, but the stored bytes fail their check; playback
	// and exports skip it.
	Damaged bool `json:"damaged,omitempty"`
}

type recordingsJSON struct {
	Camera   string     `json:"camera"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	Recorded float64    `json:"recorded_seconds"`
	Spans    []spanJSON `json:"spans"`
}

func runRecordings(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	fromS, toS := f.String("from"), f.String("to")
	pos, err := f.Parse(args)
	if err != nil || len(pos) != 1 || *fromS == "" || *toS == "" {
		if err == nil && len(pos) > 1 {
			err = fmt.Errorf("unexpected argument %q", pos[1])
		}
		if err == nil {
			err = fmt.Errorf("CAMERA, --from and --to are required")
		}
		return env.UsageError("recordings", err.Error())
	}
	from, err := ParseTime("from", *fromS)
	if err != nil {
		return env.UsageError("recordings", err.Error())
	}
	to, err := ParseTime("to", *toS)
	if err != nil {
		return env.UsageError("recordings", err.Error())
	}
	if !to.After(from) {
		return env.UsageError("recordings", "--to must be after --from")
	}
	spans, err := env.Core.Recordings(env.Actor, pos[0], from, to)
	if err != nil {
		return env.Fail(core.ActionRecordingsRead, err)
	}
	var total time.Duration
	out := recordingsJSON{Camera: pos[0], From: jsonTime(from), To: jsonTime(to), Spans: []spanJSON{}}
	good := 0
	for _, sp := range spans {
		d := sp.End.Sub(sp.Start)
		if !sp.Damaged {
			total += d
			good++
		}
		out.Spans = append(out.Spans, spanJSON{Camera: sp.Camera, Start: jsonTime(sp.Start), End: jsonTime(sp.End),
			Secs: d.Seconds(), Bytes: sp.Bytes, Damaged: sp.Damaged})
	}
	out.Recorded = total.Seconds()
	if *asJSON {
		return env.JSON(out)
	}
	if len(spans) == 0 {
		fmt.Fprintln(env.Stdout, msg(env.Lang, msgNoRecordings))
		return ExitOK
	}
	t := newTable()
	t.row(env.T("START", "開始"), env.T("END", "終了"), env.T("LENGTH", "長さ"), env.T("SIZE", "容量"))
	for _, sp := range spans {
		size := humanBytes(sp.Bytes)
		if sp.Damaged {
			size = env.T("damaged", "破損")
		}
		t.row(env.Time(sp.Start), env.Time(sp.End), humanDuration(sp.End.Sub(sp.Start)), size)
	}
	t.write(env.Stdout)
	fmt.Fprintf(env.Stdout, msg(env.Lang, msgCovered)+"\n", humanDuration(total), humanDuration(to.Sub(from)), good)
	return ExitOK
}
