package core

import "sort"

// Action names one kind of thing that can be done. It is what the
// permission table is keyed by and what a ledger entry records.
type Action string

const (
	ActionLogin  Action = "login"
	ActionLogout Action = "logout"
	ActionView   Action = "view"

	ActionCameraAdd    Action = "camera.add"
	ActionCameraUpdate Action = "camera.update"
	ActionCameraRemove Action = "camera.remove"
	ActionCameraSync   Action = "camera.sync" // from the config file at start
	ActionCamerasRead  Action = "cameras.read"

	ActionKeyEnroll      Action = "key.enroll"
	ActionKeyRevoke      Action = "key.revoke"
	ActionKeyRoleChange  Action = "key.role-change"
	ActionKeysRead       Action = "keys.read"
	ActionRefusedKey     Action = "key.refused" // recorded by the SSH layer, not in the ledger
	ActionRefusedKeyRead Action = "key.refused-read"
	ActionKeyProfile     Action = "key.profile" // job title and section (000 §5-2, forms 2/3)
	ActionPledge         Action = "key.pledge"  // confidentiality pledge (000 §11, 001 §3(5))

	ActionRequestRegister Action = "request.register"
	ActionRequestInstruct Action = "request.instruct"
	ActionRequestResult   Action = "request.result"
	ActionRequestApprove  Action = "request.approve"
	ActionRequestDeny     Action = "request.deny"
	ActionRequestExport   Action = "request.export"
	ActionRequestProtect  Action = "request.protect" // how the package is encrypted: a fresh secret or the recipient's key
	ActionExportFetch     Action = "export.fetch"    // a package copied off the appliance over scp/sftp
	ActionExportErase     Action = "export.erase"    // the appliance's copy of a package erased (proof)
	ActionRequestProvide  Action = "request.provide"
	ActionRequestClose    Action = "request.close"
	ActionRequestsRead    Action = "requests.read"
	ActionFormIssue       Action = "form.issue" // a form printed for the first time: its date is kept

	ActionHoldAdd     Action = "hold.add"
	ActionHoldRelease Action = "hold.release"
	ActionHoldsRead   Action = "holds.read"

	ActionErasure        Action = "erasure"
	ActionRecordingEvent Action = "recording.event"
	ActionRecordingsRead Action = "recordings.read"
	ActionHealthRead     Action = "health.read"

	ActionLedgerRead   Action = "ledger.read"
	ActionLedgerVerify Action = "ledger.verify"
	ActionLedgerExport Action = "ledger.export"
	// ActionLedgerCheckpoint: a signed checkpoint or proof of the ledger's
	// tree (a read: reveals a count and a hash, changes nothing).
	ActionLedgerCheckpoint Action = "ledger.checkpoint"

	ActionInquiryRegister Action = "inquiry.register"
	ActionInquiryAnswer   Action = "inquiry.answer"
	ActionInquiryClose    Action = "inquiry.close"
	ActionInquiriesRead   Action = "inquiries.read"

	ActionMaintenance     Action = "maintenance.record"
	ActionDisposal        Action = "disposal.record"
	ActionMaintenanceRead Action = "maintenance.read"
	ActionCustody         Action = "custody.record" // where the recorder is kept, cabinet, key holder (000 §7-3, 001 §5-1)
	ActionLayoutPlan      Action = "layout.file"    // a site's layout plan (001 §2-1 配置図)

	ActionViewerGrant  Action = "viewer.grant"
	ActionViewerRevoke Action = "viewer.revoke"
	ActionGrantsRead   Action = "grants.read"

	ActionExportPassphrase Action = "export-passphrase.set"

	ActionSchemaMigrate Action = "schema.migrate" // a stored-data upgrade step (migrate.go)
	ActionBackup        Action = "backup"         // an online snapshot of mimamori.db (manager)

	// ActionDenied is not a permission: it is the ledger entry written
	// when someone attempts an action their role does not allow.
	ActionDenied Action = "denied"

	ActionRequestExportFailed Action = "request.export-failed" // ledger only: a failed or refused export attempt
)

const (
	pM = 1 << RoleManager
	pO = 1 << RoleOperator
	pT = 1 << RoleTechnician
	pV = 1 << RoleViewer
	pS = 1 << RoleSystem
)

// permissions is THE permission table: action -> set of roles (bit per role).
// Everything else in core asks Allowed; nothing compares roles directly.
var permissions = map[Action]uint8{
	ActionLogin:  pM | pO | pT | pV,
	ActionLogout: pM | pO | pT | pV,
	ActionView:   pM | pO | pV, // viewers only within a grant (checked in AuthorizeView)

	ActionCameraAdd:    pM,
	ActionCameraUpdate: pM,
	ActionCameraRemove: pM,
	ActionCameraSync:   pS,
	ActionCamerasRead:  pM | pO | pT, // technician: state only (see Cameras)

	ActionKeyEnroll:      pM | pS, // system: offline bootstrap with access to the data dir
	ActionKeyRevoke:      pM | pS, // system: offline "keys revoke" when the console is unreachable
	ActionKeyRoleChange:  pM,
	ActionKeysRead:       pM | pS, // system: offline "keys list"
	ActionRefusedKey:     pS,
	ActionRefusedKeyRead: pM,
	ActionKeyProfile:     pM | pS,
	ActionPledge:         pM | pS,

	ActionRequestRegister: pM | pO,
	ActionRequestInstruct: pM,
	ActionRequestResult:   pM | pO,
	ActionRequestApprove:  pM,
	ActionRequestDeny:     pM,
	ActionRequestExport:   pM | pO,
	ActionRequestProtect:  pM,
	ActionExportFetch:     pM | pO,
	ActionExportErase:     pS,
	ActionRequestProvide:  pM,
	ActionRequestClose:    pM,
	ActionRequestsRead:    pM | pO,
	ActionFormIssue:       pM | pO,

	ActionHoldAdd:     pM,
	ActionHoldRelease: pM,
	ActionHoldsRead:   pM | pO,

	ActionErasure:        pS,
	ActionRecordingEvent: pS,
	ActionRecordingsRead: pM | pO,
	ActionHealthRead:     pM | pO | pT,

	ActionLedgerRead:   pM | pO, // operator: own entries only (see Ledger)
	ActionLedgerVerify: pM,
	ActionLedgerExport: pM,

	ActionLedgerCheckpoint: pM | pS, // system: the daily checkpoint in the process log

	ActionInquiryRegister: pM | pO,
	ActionInquiryAnswer:   pM,
	ActionInquiryClose:    pM,
	ActionInquiriesRead:   pM | pO,

	ActionMaintenance:     pM | pT,
	ActionDisposal:        pM,
	ActionMaintenanceRead: pM | pT,
	ActionCustody:         pM,
	ActionLayoutPlan:      pM,

	ActionViewerGrant:  pM,
	ActionViewerRevoke: pM,
	ActionGrantsRead:   pM,

	ActionExportPassphrase: pM,

	ActionSchemaMigrate: pS,
	ActionBackup:        pM,
}

// Allowed reports whether role r may perform action a.
func Allowed(r Role, a Action) bool {
	if r > RoleSystem {
		return false
	}
	return permissions[a]&(1<<r) != 0
}

// Actions lists every action in the permission table, sorted.
func Actions() []Action {
	out := make([]Action, 0, len(permissions))
	for a := range permissions {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
