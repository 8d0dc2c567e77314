package tui

import (
	"context"
	"time"

	"mimamori/core"
)

// Backend is exactly what the console calls on core. *core.Store
// satisfies it; tests use a fake. Every call happens inside a tea.Cmd.
type Backend interface {
	Cameras(actor core.Actor) ([]core.Camera, error)
	Requests(actor core.Actor) ([]core.Request, error)
	Request(actor core.Actor, id string) (core.Request, error)
	// LedgerPage reads one page of the ledger, newest first: the console
	// never holds more than a page.
	LedgerPage(actor core.Actor, q core.LedgerQuery) (core.LedgerPage, error)
	ChainStatus(actor core.Actor) (core.VerifyReport, error)
	Keys(actor core.Actor) ([]core.Key, error)
	RefusedKeys(actor core.Actor) ([]core.RefusedKey, error)
	EnrollPerson(actor core.Actor, in core.Enrolment) (core.Key, error)
	RevokeKey(actor core.Actor, fingerprint, reason string) error
	ChangeKeyRole(actor core.Actor, fingerprint string, role core.Role) error
	Holds(actor core.Actor) ([]core.Hold, error)
	RemoveCamera(actor core.Actor, id, reason string) error

	// The register's records that are not requests (000 §4, §5, §7, §11;
	// 001 §2, §3, §5, §8): 職名/所属, pledges and the manager's handover,
	// signs and police consultation, custody of the recorder, inspections
	// and layout plans. Each is one core call that checks the actor and
	// ledgers the change; the console asks nothing else.
	SetKeyProfile(actor core.Actor, fingerprint, jobTitle, section string) (core.Key, error)
	RecordPledge(actor core.Actor, fingerprint string) (core.Key, error)
	HandOverManager(actor core.Actor, toFingerprint, reason string) (core.Key, error)
	Camera(actor core.Actor, id string) (core.Camera, error)
	UpdateCamera(actor core.Actor, c core.Camera) (core.Camera, error)
	RecordMaintenance(actor core.Actor, in core.MaintenanceInput) (core.MaintenanceRecord, error)
	RecordDisposal(actor core.Actor, in core.DisposalInput) (core.MaintenanceRecord, error)
	MaintenanceRecords(actor core.Actor) ([]core.MaintenanceRecord, error)
	RecordCustody(actor core.Actor, in core.CustodyInput) (core.CustodyRecord, error)
	Custody(actor core.Actor) ([]core.CustodyRecord, error)
	LayoutPlans(actor core.Actor) ([]core.LayoutPlan, error)
	Subscribe(ctx context.Context) <-chan core.Change
	Health(actor core.Actor) (core.RecorderStats, error)
	Coverage(actor core.Actor, camera string, from, to time.Time) ([]core.Span, error)

	// The request workflow (form 2 to handover) and holds.
	RegisterRequest(actor core.Actor, in core.RequestInput) (core.Request, error)
	InstructSearch(actor core.Actor, id, operatorName string) (core.Request, error)
	RecordResult(actor core.Actor, id, found, note string, ranges ...core.FoundRange) (core.Request, error)
	Approve(actor core.Actor, id string, in core.ApprovalInput) (core.Request, error)
	Deny(actor core.Actor, id, reason string) (core.Request, error)
	ExportRequest(ctx context.Context, actor core.Actor, id string, passphrase []byte, dir string,
		progress func(done, total int64)) (core.Request, error)
	// ProtectPackage chooses what an approved request's package is
	// encrypted to; a fresh secret is returned once.
	ProtectPackage(actor core.Actor, id, recipientKey string) (core.PackageKey, error)
	// HasExportPassphrase: the manager's lock on exporting is set, so the
	// export form asks for it.
	HasExportPassphrase() bool
	RecordProvision(actor core.Actor, id string, p core.Provision) (core.Request, error)
	CloseRequest(actor core.Actor, id string) (core.Request, error)
	AddHold(actor core.Actor, in core.HoldInput) (core.Hold, error)
	ReleaseHold(actor core.Actor, id, reason string) error
	ReleaseRequestHolds(actor core.Actor, requestID, reason string) ([]string, error)
}

// Viewer mints playback (or live) links for a person's SSH session
// (000 §9-2, 001 §4). The implementation authorizes and ledgers the view,
// with its purpose, in core. A link answers only through that session's
// own port forward, for any number of requests (players seek with range
// requests), until the session ends or expires passes.
//
// forward is the exact command line the person runs on their own
// computer (e.g. "ssh -L 2280:127.0.0.1:2280 -p 2222 appliance");
// url is what they then open in VLC, mpv or ffplay. Optional: without a
// Viewer the console offers no viewing at all.
type Viewer interface {
	Mint(actor core.Actor, sessionID string, v core.ViewInput) (url string, forward string, expires time.Time, err error)
}

// complianceBackend is satisfied by *core.Store: what the regulation
// expects that the records lack, and the inspection schedule. Optional.
type complianceBackend interface {
	ComplianceWarnings(actor core.Actor) ([]core.Warning, error)
	InspectionSchedule(actor core.Actor) ([]core.InspectionDue, error)
}

// policyBackend is satisfied by *core.Store: the retention target for
// the timelines. Optional so a Backend without it still works.
type policyBackend interface {
	Policy() core.Policy
}

// ledgerBackend is satisfied by *core.Store: the signed checkpoint shown
// on the ledger tab and a full verification with progress. Optional.
type ledgerBackend interface {
	Checkpoint(actor core.Actor) (core.Checkpoint, error)
	VerifyLedgerProgress(actor core.Actor, progress func(done, total uint64)) (core.VerifyReport, error)
}
