package tui

import (
	"mimamori/core"
)

// The fake's side of the register's records (people, signs, police
// consultation, custody, inspections, layout plans). Screens built on
// them are tested against a real core (register_*_test.go); the fake
// only has to keep the golden screens deterministic.

func (f *fakeBackend) SetKeyProfile(a core.Actor, fp, title, section string) (core.Key, error) {
	f.record("SetKeyProfile %s fp=%s title=%s section=%s", a.Role, fp, title, section)
	return core.Key{Fingerprint: fp, JobTitle: title, Section: section}, f.failErr
}

func (f *fakeBackend) RecordPledge(a core.Actor, fp string) (core.Key, error) {
	f.record("RecordPledge %s fp=%s", a.Role, fp)
	return core.Key{Fingerprint: fp}, f.failErr
}

func (f *fakeBackend) HandOverManager(a core.Actor, fp, reason string) (core.Key, error) {
	f.record("HandOverManager %s fp=%s reason=%s", a.Role, fp, reason)
	return core.Key{Fingerprint: fp, Role: core.RoleManager}, f.failErr
}

func (f *fakeBackend) Camera(a core.Actor, id string) (core.Camera, error) {
	f.record("Camera %s %s", a.Role, id)
	for _, c := range f.cams {
		if c.ID == id {
			return c, nil
		}
	}
	return core.Camera{}, core.ErrNotFound
}

func (f *fakeBackend) UpdateCamera(a core.Actor, c core.Camera) (core.Camera, error) {
	f.record("UpdateCamera %s %s police=%s", a.Role, c.ID, fmtT(c.PoliceConsulted))
	return c, f.failErr
}

func (f *fakeBackend) RecordMaintenance(a core.Actor, in core.MaintenanceInput) (core.MaintenanceRecord, error) {
	f.record("RecordMaintenance %s kind=%s camera=%s performer=%s date=%s notes=%s", a.Role, in.Kind, in.Camera,
		in.Performer, fmtT(in.Date), in.Notes)
	return core.MaintenanceRecord{ID: "M-2026-0001", Kind: in.Kind, Camera: in.Camera}, f.failErr
}

func (f *fakeBackend) RecordDisposal(a core.Actor, in core.DisposalInput) (core.MaintenanceRecord, error) {
	f.record("RecordDisposal %s media=%s method=%s performer=%s", a.Role, in.Media, in.Method, in.Performer)
	return core.MaintenanceRecord{ID: "M-2026-0009", Kind: core.MaintDisposal}, f.failErr
}

func (f *fakeBackend) MaintenanceRecords(a core.Actor) ([]core.MaintenanceRecord, error) {
	f.record("MaintenanceRecords %s", a.Role)
	return append([]core.MaintenanceRecord(nil), f.maint...), nil
}

func (f *fakeBackend) RecordCustody(a core.Actor, in core.CustodyInput) (core.CustodyRecord, error) {
	f.record("RecordCustody %s location=%s cabinet=%s holder=%s anti=%s", a.Role, in.Location, in.Cabinet, in.KeyHolder, in.AntiRemoval)
	return core.CustodyRecord{ID: "C-2026-0002"}, f.failErr
}

func (f *fakeBackend) Custody(a core.Actor) ([]core.CustodyRecord, error) {
	f.record("Custody %s", a.Role)
	return append([]core.CustodyRecord(nil), f.custody...), nil
}

func (f *fakeBackend) LayoutPlans(a core.Actor) ([]core.LayoutPlan, error) {
	f.record("LayoutPlans %s", a.Role)
	return append([]core.LayoutPlan(nil), f.plans...), nil
}

// fakeProtection is a package key chosen at approval (a secret shown to
// the manager): without one the console offers no export.
func fakeProtection() *core.PackageProtection {
	return &core.PackageProtection{Method: core.ProtectApprovalSecret, Recipient: "age1fakerecipient", KeyID: "age1fake…",
		By: "山田 太郎", At: testNow}
}
