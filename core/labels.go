package core

import (
	"fmt"
	"sort"
)

// Labels: every code that reaches a person (ledger actions, request
// states, automatic reasons) has a Japanese and an English text here, so
// the console, the CSV and the forms speak the console's language. The
// stored records keep the codes; only display translates.

// Label is one code's text in both languages.
type Label struct{ Ja, En string }

// Text picks the label for lang ("en" or anything else for Japanese).
func (l Label) Text(lang string) string {
	if lang == "en" {
		return l.En
	}
	return l.Ja
}

// ledgerOnlyActions appear in the ledger but are no permission: nobody
// "may" be denied or fail an export.
var ledgerOnlyActions = []Action{ActionDenied, ActionRequestExportFailed}

// AllActions lists every action a ledger entry can carry: the permission
// table plus the ledger-only records, sorted.
func AllActions() []Action {
	out := Actions()
	for _, a := range ledgerOnlyActions {
		if _, inTable := permissions[a]; !inTable {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var actionLabels = map[Action]Label{
	ActionLogin:  {"ログイン", "login"},
	ActionLogout: {"ログアウト", "logout"},
	ActionView:   {"映像の閲覧", "view footage"},

	ActionCameraAdd:    {"カメラの登録", "camera added"},
	ActionCameraUpdate: {"カメラ台帳の変更", "camera register changed"},
	ActionCameraRemove: {"カメラの撤去", "camera removed"},
	ActionCameraSync:   {"設定ファイルからのカメラ台帳更新", "camera register synced from config"},
	ActionCamerasRead:  {"カメラ台帳の参照", "camera register read"},

	ActionKeyEnroll:      {"鍵の登録", "key enrolled"},
	ActionKeyRevoke:      {"鍵の失効", "key revoked"},
	ActionKeyRoleChange:  {"役割の変更", "role changed"},
	ActionKeysRead:       {"鍵一覧の参照", "keys read"},
	ActionRefusedKey:     {"未登録鍵の拒否", "unenrolled key refused"},
	ActionRefusedKeyRead: {"拒否された鍵の参照", "refused keys read"},
	ActionKeyProfile:     {"職名・所属の登録", "job title and section recorded"},
	ActionPledge:         {"守秘義務の誓約", "confidentiality pledge accepted"},

	ActionRequestRegister: {"申請の受付", "request registered"},
	ActionRequestInstruct: {"検索の指示", "search instructed"},
	ActionRequestResult:   {"検索結果の報告", "search result reported"},
	ActionRequestApprove:  {"提供の承認", "provision approved"},
	ActionRequestDeny:     {"提供の不承認", "provision denied"},
	ActionRequestExport:   {"記録媒体への複写", "export written"},
	ActionExportFetch:     {"書出しパッケージの取出し", "package fetched"},
	ActionExportErase:     {"装置内の書出しパッケージの消去", "package copy erased"},
	ActionRequestProvide:  {"画像の提供", "footage handed over"},
	ActionRequestClose:    {"申請の完了", "request closed"},
	ActionRequestsRead:    {"申請の参照", "requests read"},
	ActionFormIssue:       {"様式の作成", "form issued"},
	ActionRequestProtect:  {"書出しパッケージの暗号化方法の設定", "export package protection set"},

	ActionHoldAdd:     {"保存期間の延長", "retention extended (hold)"},
	ActionHoldRelease: {"保全の解除", "hold released"},
	ActionHoldsRead:   {"保全の参照", "holds read"},

	ActionErasure:        {"消去の記録", "erasure proof"},
	ActionRecordingEvent: {"録画の事象", "recording event"},
	ActionRecordingsRead: {"録画の参照", "recordings read"},
	ActionHealthRead:     {"稼働状態の参照", "health read"},

	ActionLedgerRead:       {"台帳の参照", "ledger read"},
	ActionLedgerVerify:     {"台帳の検証", "ledger verified"},
	ActionLedgerExport:     {"台帳の書出し", "ledger exported"},
	ActionLedgerCheckpoint: {"台帳の署名付きチェックポイント", "ledger checkpoint"},
	ActionSchemaMigrate:    {"保存形式の移行", "stored-data migration"},

	ActionInquiryRegister: {"問い合わせ・苦情の受付", "inquiry registered"},
	ActionInquiryAnswer:   {"問い合わせ・苦情への回答", "inquiry answered"},
	ActionInquiryClose:    {"問い合わせ・苦情の完了", "inquiry closed"},
	ActionInquiriesRead:   {"問い合わせの参照", "inquiries read"},

	ActionMaintenance:     {"保守点検の記録", "maintenance recorded"},
	ActionDisposal:        {"記録媒体の廃棄", "media disposal recorded"},
	ActionMaintenanceRead: {"保守記録の参照", "maintenance read"},
	ActionCustody:         {"保管状況の記録", "custody recorded"},
	ActionLayoutPlan:      {"配置図の登録", "layout plan filed"},

	ActionViewerGrant:  {"一時閲覧の許可", "viewer granted"},
	ActionViewerRevoke: {"一時閲覧の取消", "viewer revoked"},
	ActionGrantsRead:   {"一時閲覧の参照", "grants read"},

	ActionExportPassphrase: {"書出しパスワードの設定", "export passphrase set"},

	ActionBackup: {"データベースのバックアップ", "database backed up"},

	ActionDenied:              {"権限のない操作の試行", "forbidden attempt"},
	ActionRequestExportFailed: {"複写の失敗", "export failed"},
}

// ActionLabel is the action's text in lang; an action without a label
// (there should be none: a test checks) shows its code.
func ActionLabel(a Action, lang string) string {
	if l, ok := actionLabels[a]; ok {
		return l.Text(lang)
	}
	return string(a)
}

var stateLabels = map[RequestState]Label{
	StateRegistered: {"受付", "registered"},
	StateInstructed: {"検索指示", "search instructed"},
	StateSearched:   {"検索結果報告", "searched"},
	StateApproved:   {"承認", "approved"},
	StateDenied:     {"不承認", "denied"},
	StateExported:   {"複写済", "exported"},
	StateProvided:   {"提供済", "provided"},
	StateClosed:     {"完了", "closed"},
}

// StateLabel is a request state's text.
func StateLabel(s RequestState, lang string) string {
	if l, ok := stateLabels[s]; ok {
		return l.Text(lang)
	}
	return string(s)
}

// Other codes people see, by kind.
var codeLabels = map[string]map[string]Label{
	"outcome": {
		"found":     {"対象画像データ有", "found"},
		"not-found": {"対象画像データ無", "not found"},
		"other":     {"その他", "other"},
	},
	"hold-kind": {
		HoldExtension:   {"保存期間の延長", "extension"},
		HoldProvisional: {"申請による仮保全", "provisional (request)"},
	},
	"ingest-state": {
		"connecting":     {"接続中", "connecting"},
		"recording":      {"録画中", "recording"},
		"stalled":        {"停滞", "stalled"},
		"error":          {"異常", "error"},
		"stopped":        {"停止", "stopped"},
		"stream-invalid": {"不正な映像", "stream invalid"},
	},
	"camera-status": {
		CameraActive:      {"稼働中", "active"},
		CameraMaintenance: {"保守中", "maintenance"},
		CameraRemoved:     {"撤去済", "removed"},
	},
	"maintenance": {
		MaintInspection:    {"点検", "inspection"},
		MaintReplacement:   {"機器交換", "replacement"},
		MaintCameraRemoval: {"カメラ撤去", "camera removal"},
		MaintSignRemoval:   {"表示板撤去", "sign removal"},
		MaintSignPosted:    {"表示板掲示", "sign posted"},
		MaintDisposal:      {"記録媒体の廃棄", "media disposal"},
	},
	"event": {
		"discontinuity": {"タイムスタンプの不連続", "timestamp discontinuity"},
		"clock-jump":    {"時刻の跳躍", "clock jump"},
		"camera-down":   {"カメラ接続断", "camera down"},
		"camera-up":     {"カメラ接続回復", "camera up"},
		"write-error":   {"書込エラー", "write error"},
		"stopped":       {"録画停止", "recording stopped"},
		// The ring's events (recorder/ring).
		"clock-step":         {"時計の飛び", "wall clock stepped"},
		"damaged":            {"映像の破損", "damaged footage"},
		"camera-starved":     {"記録領域なし", "no ring block for the camera"},
		"camera-starved-end": {"記録領域の回復", "camera recording again"},
		"disk-stall":         {"ディスク応答なし", "disk not responding"},
		"disk-stall-end":     {"ディスク応答回復", "disk responding again"},
		"disk-full":          {"ディスク容量不足", "disk full"},
		"disk-full-end":      {"ディスク容量回復", "disk space available again"},
		// recorder/ingest stream faults
		"packet-loss":        {"パケット損失", "packet loss"},
		"oversize-nal":       {"過大な映像データの破棄", "oversize video unit dropped"},
		"invalid-payload":    {"不正な映像データ", "invalid video data"},
		"ssrc-change":        {"映像送信元の切替", "RTP source changed"},
		"stream-invalid":     {"映像不正（録画不能）", "stream invalid (not recordable)"},
		"stream-invalid-end": {"映像不正の解消", "stream valid again"},
	},
	"erasure": {
		"retention": {"保存期間経過による消去", "retention expired"},
		"overwrite": {"上書きによる消去", "overwritten (ring full)"},
	},
	"reason": {
		ReasonProvisional:  {"申請に伴う仮保全", "provisional hold for a request"},
		ReasonHoldLapse:    {"申請の終了に伴い猶予期間後に仮保全を解除", "request ended; provisional hold lapses after the grace period"},
		ReasonHoldNarrowed: {"承認された範囲に仮保全を限定（範囲外は解除）", "provisional hold narrowed to the approved ranges (the rest released)"},
	},
}

// Automatic reasons core writes itself (not typed by a person).
const (
	ReasonProvisional = "provisional-hold"
	ReasonHoldLapse   = "provisional-lapse"
	// ReasonHoldNarrowed: at approval, a provisional hold keeps only the
	// approved ranges (core.narrowProvisional).
	ReasonHoldNarrowed = "provisional-narrowed"
)

// CodeLabel is the text of a code of a kind ("outcome", "hold-kind",
// "camera-status", "maintenance", "event", "erasure", "reason"); an
// unknown code shows as itself.
func CodeLabel(kind, code, lang string) string {
	if l, ok := codeLabels[kind][code]; ok {
		return l.Text(lang)
	}
	return code
}

// DetailText is a ledger detail's value as a person reads it: codes core
// wrote itself (states, outcomes, automatic reasons, kinds) in lang,
// anything a person typed as typed.
func DetailText(key, value, lang string) string {
	switch key {
	case "state", "from_state", "request_state":
		return StateLabel(RequestState(value), lang)
	case "outcome":
		return CodeLabel("outcome", value, lang)
	case "reason":
		if _, ok := codeLabels["reason"][value]; ok {
			return CodeLabel("reason", value, lang)
		}
		return CodeLabel("erasure", value, lang)
	case "kind":
		for _, k := range []string{"maintenance", "hold-kind", "event"} {
			if l, ok := codeLabels[k][value]; ok {
				return l.Text(lang)
			}
		}
	case "status":
		return CodeLabel("camera-status", value, lang)
	}
	return value
}

// HoldReason is a hold's reason as a person reads it: a manager's typed
// reason as typed, an automatic one in lang.
func HoldReason(h Hold, lang string) string {
	if h.Kind == HoldProvisional && h.RequestID != "" {
		if lang == "en" {
			return "provisional hold for request " + h.RequestID
		}
		return fmt.Sprintf("申請 %s に伴う仮保全", h.RequestID)
	}
	return h.Reason
}
