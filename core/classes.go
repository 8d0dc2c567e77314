package core

// Ledger entries are of two classes. People's acts are what the
// regulations ask about — who logged in, viewed, searched, approved,
// exported, handed over, changed keys, cameras or holds — and what the
// console and `ledger` show by default. Machine records are what the
// appliance writes by itself: erasure proofs, recording events, schema
// migrations, refusals of unknown keys. Every action has a class here (a
// test checks): add new actions to this table.

// ActionClass is people or machine.
type ActionClass uint8

const (
	ClassPeople ActionClass = iota
	ClassMachine
)

func (c ActionClass) String() string {
	if c == ClassMachine {
		return "machine"
	}
	return "people"
}

var actionClasses = map[Action]ActionClass{
	ActionErasure:        ClassMachine,
	ActionRecordingEvent: ClassMachine,
	ActionSchemaMigrate:  ClassMachine,
	ActionRefusedKey:     ClassMachine,

	ActionLogin:            ClassPeople,
	ActionLogout:           ClassPeople,
	ActionView:             ClassPeople,
	ActionCameraAdd:        ClassPeople,
	ActionCameraUpdate:     ClassPeople,
	ActionCameraRemove:     ClassPeople,
	ActionCameraSync:       ClassPeople, // someone edited the config file: a change of the register
	ActionCamerasRead:      ClassPeople,
	ActionKeyEnroll:        ClassPeople,
	ActionPledge:           ClassPeople,
	ActionInquiryRegister:  ClassPeople,
	ActionMaintenance:      ClassPeople,
	ActionKeyRevoke:        ClassPeople,
	ActionKeyRoleChange:    ClassPeople,
	ActionKeysRead:         ClassPeople,
	ActionRefusedKeyRead:   ClassPeople,
	ActionKeyProfile:       ClassPeople,
	ActionRequestRegister:  ClassPeople,
	ActionRequestInstruct:  ClassPeople,
	ActionRequestResult:    ClassPeople,
	ActionRequestApprove:   ClassPeople,
	ActionRequestDeny:      ClassPeople,
	ActionRequestExport:    ClassPeople,
	ActionRequestProtect:   ClassPeople,
	ActionRequestProvide:   ClassPeople,
	ActionRequestClose:     ClassPeople,
	ActionRequestsRead:     ClassPeople,
	ActionFormIssue:        ClassPeople,
	ActionHoldAdd:          ClassPeople,
	ActionHoldRelease:      ClassPeople,
	ActionHoldsRead:        ClassPeople,
	ActionRecordingsRead:   ClassPeople,
	ActionHealthRead:       ClassPeople,
	ActionLedgerRead:       ClassPeople,
	ActionLedgerVerify:     ClassPeople,
	ActionLedgerExport:     ClassPeople,
	ActionLedgerCheckpoint: ClassPeople,
	ActionInquiryAnswer:    ClassPeople,
	ActionInquiryClose:     ClassPeople,
	ActionInquiriesRead:    ClassPeople,
	ActionDisposal:         ClassPeople,
	ActionMaintenanceRead:  ClassPeople,
	ActionCustody:          ClassPeople,
	ActionLayoutPlan:       ClassPeople,
	ActionViewerGrant:      ClassPeople,
	ActionViewerRevoke:     ClassPeople,
	ActionGrantsRead:       ClassPeople,
	ActionExportPassphrase: ClassPeople,
	ActionBackup:           ClassPeople,
	ActionExportFetch:      ClassPeople,
	// The appliance's copy of a package erased after handover or at expiry:
	// rare, and part of a copy's custody, so shown with people's acts.
	ActionExportErase:         ClassPeople,
	ActionDenied:              ClassPeople,
	ActionRequestExportFailed: ClassPeople,
}

// ClassOf is the class of action a. An action missing from the table
// (there should be none) counts as a people's act: shown, never hidden.
func ClassOf(a Action) ActionClass { return actionClasses[a] }

// LedgerShow chooses the classes a listing shows.
type LedgerShow uint8

const (
	ShowPeople  LedgerShow = iota // people's acts (the default)
	ShowMachine                   // machine records only
	ShowAll
)

func (w LedgerShow) String() string {
	return [...]string{ShowPeople: "people", ShowMachine: "machine", ShowAll: "all"}[min(w, ShowAll)]
}

// Shows reports whether entries of action a are shown.
func (w LedgerShow) Shows(a Action) bool {
	switch w {
	case ShowAll:
		return true
	case ShowMachine:
		return ClassOf(a) == ClassMachine
	}
	return ClassOf(a) == ClassPeople
}
