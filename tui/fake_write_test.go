package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mimamori/core"
)

// The fake's write side: every call is recorded with its arguments so
// tests can check exactly what the console asked core to do.

func fmtT(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return t.UTC().Format(time.RFC3339)
}

func (f *fakeBackend) findReq(id string) (int, error) {
	for i, r := range f.reqs {
		if r.ID == id {
			return i, nil
		}
	}
	return -1, core.ErrNotFound
}

// step moves a request to a new state the way core does (no checks
// beyond existence: the tests check what the console sends).
func (f *fakeBackend) step(a core.Actor, id string, to core.RequestState, note string, apply func(r *core.Request)) (core.Request, error) {
	if f.failErr != nil {
		return core.Request{}, f.failErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.findReq(id)
	if err != nil {
		return core.Request{}, err
	}
	r := &f.reqs[i]
	if apply != nil {
		apply(r)
	}
	r.State = to
	r.History = append(r.History, core.Transition{State: to, By: a.Name, At: testNow, Note: note})
	return *r, nil
}

func (f *fakeBackend) RegisterRequest(a core.Actor, in core.RequestInput) (core.Request, error) {
	f.record("RegisterRequest %s received=%s address=%s agency=%s rep=%s contact=%s phone=%s purpose=%s reason=%s ground=%s note=%s cameras=%s from=%s to=%s notes=%s ref=%s",
		a.Role, fmtT(in.ReceivedAt), in.ApplicantAddress, in.Agency, in.Representative, in.ContactPerson, in.Phone,
		in.Purpose, in.PurposeReason, in.Ground, in.GroundNote, strings.Join(in.Cameras, ","), fmtT(in.From), fmtT(in.To),
		in.Notes, in.WrittenRef)
	if f.failErr != nil {
		return core.Request{}, f.failErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := core.Request{ID: fmt.Sprintf("R-2026-%04d", 100+len(f.reqs)), RequestInput: in, State: core.StateRegistered,
		CreatedBy: a.Name, CreatedAt: testNow, History: []core.Transition{{State: core.StateRegistered, By: a.Name, At: testNow}}}
	f.reqs = append([]core.Request{r}, f.reqs...)
	return r, nil
}

func (f *fakeBackend) InstructSearch(a core.Actor, id, op string) (core.Request, error) {
	f.record("InstructSearch %s %s operator=%s", a.Role, id, op)
	return f.step(a, id, core.StateInstructed, op, func(r *core.Request) { r.AssignedOperator = op })
}

func (f *fakeBackend) RecordResult(a core.Actor, id, found, note string, ranges ...core.FoundRange) (core.Request, error) {
	f.record("RecordResult %s %s found=%s note=%s ranges=%s", a.Role, id, found, note, fakeRanges(ranges))
	return f.step(a, id, core.StateSearched, note, func(r *core.Request) {
		r.Result = &core.SearchResult{Outcome: found, Note: note, By: a.Name, At: testNow, Found: ranges}
	})
}

func (f *fakeBackend) Approve(a core.Actor, id string, in core.ApprovalInput) (core.Request, error) {
	f.record("Approve %s %s judgement=%s ranges=%s", a.Role, id, in.Judgement, fakeRanges(in.Ranges))
	return f.step(a, id, core.StateApproved, in.Judgement, func(r *core.Request) {
		r.Decision = &core.Decision{Approved: true, By: a.Name, At: testNow, Judgement: in.Judgement, Ranges: in.Ranges}
	})
}

// fakeRanges is ranges as a test log reads them: "cam1 10:03:00-10:05:00,…" (UTC).
func fakeRanges(rs []core.FoundRange) string {
	var parts []string
	for _, g := range rs {
		parts = append(parts, g.Camera+" "+g.From.UTC().Format("15:04:05")+"-"+g.To.UTC().Format("15:04:05"))
	}
	return strings.Join(parts, ",")
}

func (f *fakeBackend) ProtectPackage(a core.Actor, id, key string) (core.PackageKey, error) {
	f.record("ProtectPackage %s %s key=%s", a.Role, id, key)
	f.mu.Lock()
	if i, err := f.findReq(id); err == nil {
		f.reqs[i].Protection = fakeProtection()
	}
	f.mu.Unlock()
	r, err := f.Request(a, id)
	if key != "" {
		return core.PackageKey{Request: r}, err
	}
	return core.PackageKey{Request: r, Secret: "AGE-SECRET-KEY-1FAKESECRETFORTHECONSOLEQ9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X"}, err
}

func (f *fakeBackend) HasExportPassphrase() bool { return !f.noLock }

func (f *fakeBackend) Deny(a core.Actor, id, reason string) (core.Request, error) {
	f.record("Deny %s %s reason=%s", a.Role, id, reason)
	return f.step(a, id, core.StateDenied, reason, func(r *core.Request) {
		r.Decision = &core.Decision{By: a.Name, At: testNow, Reason: reason}
	})
}

func (f *fakeBackend) ExportRequest(ctx context.Context, a core.Actor, id string, pass []byte, dir string,
	progress func(done, total int64)) (core.Request, error) {
	f.record("ExportRequest %s %s passphrase=%s dir=%s", a.Role, id, pass, dir)
	progress(0, 100<<20)
	progress(40<<20, 100<<20)
	if f.exportGate != nil {
		select {
		case <-f.exportGate:
		case <-ctx.Done():
			return core.Request{}, ctx.Err()
		}
	}
	progress(100<<20, 100<<20)
	return f.step(a, id, core.StateExported, "", func(r *core.Request) {
		r.Export = &core.ExportRecord{Path: dir + "/" + id + ".mmx", ManifestHash: strings.Repeat("ab", 32), By: a.Name, At: testNow}
	})
}

func (f *fakeBackend) RecordProvision(a core.Actor, id string, p core.Provision) (core.Request, error) {
	f.record("RecordProvision %s %s recipient=%s agency=%s iddoc=%s date=%s ref=%s medium=%s", a.Role, id, p.Recipient, p.Agency,
		p.IDDocType, fmtT(p.Date), p.WrittenRef, p.Medium)
	return f.step(a, id, core.StateProvided, "", func(r *core.Request) { r.Provision = &p })
}

func (f *fakeBackend) CloseRequest(a core.Actor, id string) (core.Request, error) {
	f.record("CloseRequest %s %s", a.Role, id)
	return f.step(a, id, core.StateClosed, "", nil)
}

func (f *fakeBackend) AddHold(a core.Actor, in core.HoldInput) (core.Hold, error) {
	f.record("AddHold %s camera=%s from=%s to=%s until=%s reason=%s", a.Role, in.Camera, fmtT(in.From), fmtT(in.To),
		fmtT(in.Until), in.Reason)
	if f.failErr != nil {
		return core.Hold{}, f.failErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := core.Hold{ID: fmt.Sprintf("H-2026-%04d", 100+len(f.holds)), Camera: in.Camera, Kind: core.HoldExtension,
		Reason: in.Reason, CreatedBy: a.Name, From: in.From, To: in.To, Until: in.Until, CreatedAt: testNow}
	f.holds = append([]core.Hold{h}, f.holds...)
	return h, nil
}

func (f *fakeBackend) ReleaseHold(a core.Actor, id, reason string) error {
	f.record("ReleaseHold %s %s reason=%s", a.Role, id, reason)
	if f.failErr != nil {
		return f.failErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.holds {
		if f.holds[i].ID == id {
			f.holds[i].ReleasedAt, f.holds[i].ReleaseReason = testNow, reason
			return nil
		}
	}
	return core.ErrNotFound
}

func (f *fakeBackend) ReleaseRequestHolds(a core.Actor, requestID, reason string) ([]string, error) {
	f.record("ReleaseRequestHolds %s %s reason=%s", a.Role, requestID, reason)
	if f.failErr != nil {
		return nil, f.failErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for i := range f.holds {
		if f.holds[i].RequestID == requestID && f.holds[i].ReleasedAt.IsZero() {
			f.holds[i].ReleasedAt, f.holds[i].ReleaseReason = testNow, reason
			ids = append(ids, f.holds[i].ID)
		}
	}
	return ids, nil
}

// fakeViewer mints predictable URLs and records every call.
type fakeViewer struct{ f *fakeBackend }

func (v fakeViewer) Mint(a core.Actor, sid string, in core.ViewInput) (string, string, time.Time, error) {
	v.f.record("Mint %s session=%s camera=%s from=%s to=%s live=%v", a.Role, sid, in.Camera, fmtT(in.From), fmtT(in.To), in.Live)
	return "rtsp://127.0.0.1:18554/v/" + in.Camera + "-tok3n", "ssh -N -L 18554:127.0.0.1:18554 -p 2222 mimamori.local",
		testNow.Add(10 * time.Minute), nil
}
