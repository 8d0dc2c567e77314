package tui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"mimamori/core"
)

// testNow is the fixed clock of every screen test: 2026-11-20 10:30 JST.
var testNow = time.Date(2026, 11, 20, 1, 30, 0, 0, time.UTC)

var testLoc = time.FixedZone("JST", 9*60*60)

// fakeBackend is a deterministic Backend: fixed data, every call recorded.
type fakeBackend struct {
	mu         sync.Mutex
	calls      []string
	cams       []core.Camera
	stats      core.RecorderStats
	spans      map[string][]core.Span
	holds      []core.Hold
	reqs       []core.Request
	ledger     []core.Entry
	keys       []core.Key
	refused    []core.RefusedKey
	changes    chan core.Change
	policy     core.Policy
	warnings   []core.Warning
	sched      []core.InspectionDue
	maint      []core.MaintenanceRecord
	custody    []core.CustodyRecord
	plans      []core.LayoutPlan
	failErr    error         // returned by the key actions when set
	exportGate chan struct{} // ExportRequest waits on it when set
	noLock     bool          // no export passphrase is set
}

func (f *fakeBackend) record(format string, args ...any) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// called lists the recorded calls whose text starts with prefix.
func (f *fakeBackend) called(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeBackend) Policy() core.Policy { return f.policy }

func (f *fakeBackend) ComplianceWarnings(a core.Actor) ([]core.Warning, error) {
	f.record("ComplianceWarnings %s", a.Role)
	return f.warnings, nil
}

func (f *fakeBackend) InspectionSchedule(a core.Actor) ([]core.InspectionDue, error) {
	f.record("InspectionSchedule %s", a.Role)
	return f.sched, nil
}

func (f *fakeBackend) Cameras(a core.Actor) ([]core.Camera, error) {
	f.record("Cameras %s", a.Role)
	return append([]core.Camera(nil), f.cams...), nil
}

func (f *fakeBackend) Requests(a core.Actor) ([]core.Request, error) {
	f.record("Requests %s", a.Role)
	return append([]core.Request(nil), f.reqs...), nil
}

func (f *fakeBackend) Request(a core.Actor, id string) (core.Request, error) {
	f.record("Request %s %s", a.Role, id)
	for _, r := range f.reqs {
		if r.ID == id {
			return r, nil
		}
	}
	return core.Request{}, core.ErrNotFound
}

func (f *fakeBackend) LedgerPage(a core.Actor, q core.LedgerQuery) (core.LedgerPage, error) {
	f.record("LedgerPage %s before=%d show=%s", a.Role, q.Before, q.Show)
	if q.Limit <= 0 {
		q.Limit = 100
	}
	p := core.LedgerPage{Total: uint64(len(f.ledger))}
	for i := len(f.ledger) - 1; i >= 0; i-- {
		e := f.ledger[i]
		if q.Before != 0 && e.Seq >= q.Before {
			continue
		}
		if len(p.Entries) == q.Limit {
			p.Next = e.Seq + 1
			break
		}
		if a.Role != core.RoleManager && e.Actor.Fingerprint != a.Fingerprint {
			continue
		}
		if !q.Show.Shows(e.Action) || (q.Match != nil && !q.Match(&e)) {
			continue
		}
		p.Entries = append(p.Entries, e)
	}
	return p, nil
}

func (f *fakeBackend) ChainStatus(a core.Actor) (core.VerifyReport, error) {
	f.record("ChainStatus %s", a.Role)
	return core.VerifyReport{Entries: uint64(len(f.ledger)), OK: true}, nil
}

func (f *fakeBackend) Keys(a core.Actor) ([]core.Key, error) {
	f.record("Keys %s", a.Role)
	return append([]core.Key(nil), f.keys...), nil
}

func (f *fakeBackend) RefusedKeys(a core.Actor) ([]core.RefusedKey, error) {
	f.record("RefusedKeys %s", a.Role)
	return append([]core.RefusedKey(nil), f.refused...), nil
}

func (f *fakeBackend) RemoveCamera(a core.Actor, id, reason string) error {
	f.record("RemoveCamera %s %s reason=%s", a.Role, id, reason)
	return f.failErr
}

func (f *fakeBackend) EnrollPerson(a core.Actor, in core.Enrolment) (core.Key, error) {
	f.record("EnrollPerson %s name=%s role=%s title=%s section=%s pledged=%v key=%s", a.Role, in.Name, in.Role,
		in.JobTitle, in.Section, in.Pledged, in.AuthorizedKey)
	if f.failErr != nil {
		return core.Key{}, f.failErr
	}
	return core.Key{Name: in.Name, Role: in.Role, JobTitle: in.JobTitle, Section: in.Section}, nil
}

func (f *fakeBackend) EnrollKey(a core.Actor, name string, role core.Role, authorizedKey string) (core.Key, error) {
	f.record("EnrollKey %s name=%s role=%s key=%s", a.Role, name, role, authorizedKey)
	if f.failErr != nil {
		return core.Key{}, f.failErr
	}
	return core.Key{Name: name, Role: role}, nil
}

func (f *fakeBackend) RevokeKey(a core.Actor, fingerprint, reason string) error {
	f.record("RevokeKey %s fp=%s reason=%s", a.Role, fingerprint, reason)
	return f.failErr
}

func (f *fakeBackend) ChangeKeyRole(a core.Actor, fingerprint string, role core.Role) error {
	f.record("ChangeKeyRole %s fp=%s role=%s", a.Role, fingerprint, role)
	return f.failErr
}

func (f *fakeBackend) Holds(a core.Actor) ([]core.Hold, error) {
	f.record("Holds %s", a.Role)
	return append([]core.Hold(nil), f.holds...), nil
}

func (f *fakeBackend) Subscribe(ctx context.Context) <-chan core.Change {
	f.record("Subscribe")
	return f.changes
}

func (f *fakeBackend) Health(a core.Actor) (core.RecorderStats, error) {
	f.record("Health %s", a.Role)
	return f.stats, nil
}

func (f *fakeBackend) Coverage(a core.Actor, camera string, from, to time.Time) ([]core.Span, error) {
	f.record("Coverage %s %s", a.Role, camera)
	return f.spans[camera], nil
}

var (
	jaPlaces = []string{"正門前", "北駐車場", "東口ロビー", "西通用口", "南側歩道", "自転車置場", "倉庫搬入口", "屋上出入口"}
	jaWhere  = []string{"本庁舎 正面玄関", "第2駐車場 北端", "東館1階 ロビー", "西館 通用口", "市道四街道線 歩道", "駐輪場 屋根下", "倉庫棟 搬入口", "本庁舎 屋上"}
	jaDir    = []string{"北向き・玄関全体", "南向き・出入口", "西向き・受付", "東向き・通路", "北東向き・歩道", "南西向き・駐輪場", "北向き・搬入口", "東向き・屋上"}
)

// newFake builds n cameras with a week of coverage, holds, requests,
// ledger entries and keys, all derived from testNow.
func newFake(n int) *fakeBackend {
	f := &fakeBackend{spans: map[string][]core.Span{}, changes: make(chan core.Change, 16), policy: core.CityStandard()}
	week := 7 * 24 * time.Hour
	f.stats.Ring = core.RingStats{
		CapacityBytes: 2 << 40, UsedBytes: 1700 << 30, HeldBytes: 120 << 30, HoldLimitBytes: 512 << 30,
		BlockSize: 64 << 20, Blocks: 32768, FreeBlocks: 4568, WriteBytesPerS: float64(n) * 500_000,
		FsyncLatencyP50: 2100 * time.Microsecond, FsyncLatencyMax: 14 * time.Millisecond,
		WriteErrors: 2, LastWriteError: "write block 1234: input/output error", DiskFreeBytes: 310 << 30,
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("cam%02d", i+1)
		c := core.Camera{
			ID: id, Number: fmt.Sprintf("%d", i+1), Name: jaPlaces[i%len(jaPlaces)],
			Location: jaWhere[i%len(jaWhere)], Direction: jaDir[i%len(jaDir)],
			URL: "rtsp://10.0.0.1/" + id, SignPosted: i%4 != 3, Status: core.CameraActive,
			PoliceConsulted: time.Date(2026, 4, 1+i%20, 0, 0, 0, 0, time.UTC),
		}
		if i == 6 {
			c.Status = core.CameraMaintenance
		}
		if i%5 == 4 {
			c.Name = fmt.Sprintf("Gate %d", i+1)
		}
		f.cams = append(f.cams, c)

		oldest := testNow.Add(-week + time.Duration(i%6)*7*time.Minute)
		cs := core.CameraStats{
			Camera: id, Connected: true, State: "recording", Codec: "H264", Width: 1920, Height: 1080,
			FPS: 15, BitrateBps: 4_000_000, LastFrame: testNow.Add(-time.Second), Reconnects: uint64(i % 3),
			Oldest: oldest, AchievedRetain: testNow.Sub(oldest), TargetRetain: week,
			BytesStored: 300 << 30,
		}
		var spans []core.Span
		switch {
		case i == 2: // dead since yesterday evening
			cs.Connected, cs.State, cs.FPS, cs.BitrateBps = false, "error", 0, 0
			cs.LastFrame = testNow.Add(-15 * time.Hour)
			cs.LastError = "dial tcp 10.0.0.13:554: connect: connection refused"
			cs.Reconnects = 57
			spans = []core.Span{{Camera: id, Start: oldest, End: testNow.Add(-15 * time.Hour)}}
		case i%3 == 1: // a three-hour gap three days ago
			gap := testNow.Add(-72 * time.Hour)
			spans = []core.Span{{Camera: id, Start: oldest, End: gap}, {Camera: id, Start: gap.Add(3 * time.Hour), End: testNow}}
		case i == 5: // recording only for the last four days: retention not met
			oldest = testNow.Add(-4 * 24 * time.Hour)
			cs.Oldest, cs.AchievedRetain = oldest, testNow.Sub(oldest)
			spans = []core.Span{{Camera: id, Start: oldest, End: testNow}}
			cs.ClockJumps = 1
		default:
			spans = []core.Span{{Camera: id, Start: oldest, End: testNow}}
		}
		f.spans[id] = spans
		f.stats.Cameras = append(f.stats.Cameras, cs)
	}
	f.holds = []core.Hold{
		{ID: "H-2026-0001", Camera: "cam01", Kind: core.HoldProvisional, RequestID: "R-2026-0012",
			Reason: "利用申請 R-2026-0012 の仮保全", CreatedBy: "佐藤 花子",
			From: testNow.Add(-5 * 24 * time.Hour), To: testNow.Add(-5*24*time.Hour + 4*time.Hour),
			Until: testNow.Add(60 * 24 * time.Hour), CreatedAt: testNow.Add(-2 * time.Hour)},
		{ID: "H-2026-0002", Camera: "cam02", Kind: core.HoldExtension, Reason: "器物損壊の確認のため延長",
			CreatedBy: "山田 太郎", From: testNow.Add(-7 * 24 * time.Hour), To: testNow.Add(-6 * 24 * time.Hour),
			Until: testNow.Add(30 * 24 * time.Hour), CreatedAt: testNow.Add(-30 * time.Hour)},
	}
	mk := func(id string, st core.RequestState, agency string, age time.Duration, cams ...string) core.Request {
		at := testNow.Add(-age)
		r := core.Request{ID: id, State: st, CreatedBy: "佐藤 花子", CreatedAt: at}
		r.RequestInput = core.RequestInput{
			ReceivedAt: at, ApplicantAddress: "千葉県四街道市鹿渡無番地", Agency: agency,
			Representative: "署長 高橋 一郎", ContactPerson: "生活安全課 鈴木 次郎", Phone: "043-421-0110",
			Purpose: "investigation", Ground: "law", Cameras: cams,
			From: at.Add(-48 * time.Hour), To: at.Add(-46 * time.Hour), Notes: "自転車盗の捜査", WrittenRef: "四警発第123号",
		}
		r.History = []core.Transition{{State: core.StateRegistered, By: "佐藤 花子", At: at}}
		return r
	}
	r1 := mk("R-2026-0012", core.StateInstructed, "四街道警察署", 26*time.Hour, "cam01", "cam02")
	r1.AssignedOperator = "佐藤 花子"
	r1.HoldIDs = []string{"H-2026-0001"}
	r1.History = append(r1.History, core.Transition{State: core.StateInstructed, By: "山田 太郎", At: testNow.Add(-25 * time.Hour), Note: "佐藤 花子 に指示"})
	r2 := mk("R-2026-0011", core.StateSearched, "千葉県警察本部", 5*24*time.Hour, "cam03")
	r2.Result = &core.SearchResult{Outcome: "found", Note: "該当車両を確認 10:12-10:15", By: "佐藤 花子", At: testNow.Add(-4 * 24 * time.Hour)}
	r2.History = append(r2.History,
		core.Transition{State: core.StateInstructed, By: "山田 太郎", At: testNow.Add(-5*24*time.Hour + time.Hour)},
		core.Transition{State: core.StateSearched, By: "佐藤 花子", At: testNow.Add(-4 * 24 * time.Hour), Note: "found"})
	r3 := mk("R-2026-0010", core.StateRegistered, "Yotsukaido Police", 3*time.Hour, "cam05")
	r3.Purpose, r3.PurposeReason = "other", "missing person"
	r4 := mk("R-2026-0009", core.StateClosed, "四街道警察署", 20*24*time.Hour, "cam04")
	f.reqs = []core.Request{r3, r1, r2, r4}

	yamada := core.Actor{Fingerprint: "SHA256:mgrYamadaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Name: "山田 太郎", Role: core.RoleManager}
	sato := core.Actor{Fingerprint: "SHA256:opSatoBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", Name: "佐藤 花子", Role: core.RoleOperator}
	tech := core.Actor{Fingerprint: "SHA256:techCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", Name: "Tanaka Ken", Role: core.RoleTechnician}
	sys := core.SystemActor("recorder")
	type ev struct {
		a       core.Actor
		act     core.Action
		subject string
		det     map[string]string
	}
	evs := []ev{
		{sys, core.ActionCameraSync, "cam01", map[string]string{"change": "add", "name": "正門前"}},
		{yamada, core.ActionKeyEnroll, sato.Fingerprint, map[string]string{"name": sato.Name, "role": "operator"}},
		{yamada, core.ActionLogin, yamada.Fingerprint, map[string]string{"remote": "192.0.2.10:50122"}},
		{sato, core.ActionLogin, sato.Fingerprint, map[string]string{"remote": "192.0.2.11:50200"}},
		{sato, core.ActionRequestRegister, "R-2026-0012", map[string]string{"agency": "四街道警察署"}},
		{sys, core.ActionHoldAdd, "cam01", map[string]string{"kind": "provisional", "request": "R-2026-0012"}},
		{yamada, core.ActionRequestInstruct, "R-2026-0012", map[string]string{"operator": sato.Name}},
		{sato, core.ActionView, "cam01", map[string]string{"from": "2026-11-18T01:00:00Z", "to": "2026-11-18T03:00:00Z"}},
		{sys, core.ActionErasure, "cam03", map[string]string{"reason": "retention", "bytes": "67108864"}},
		{tech, core.ActionLogin, tech.Fingerprint, map[string]string{"remote": "198.51.100.7:40022"}},
		{sys, core.ActionRecordingEvent, "cam03", map[string]string{"kind": "camera-down"}},
		{sato, core.ActionRequestRegister, "R-2026-0010", map[string]string{"agency": "Yotsukaido Police"}},
	}
	for i, e := range evs {
		f.ledger = append(f.ledger, core.Entry{
			Seq: uint64(i + 1), Time: testNow.Add(-time.Duration(len(evs)-i) * 97 * time.Minute),
			Actor: e.a, Action: e.act, Subject: e.subject, Details: e.det,
		})
	}
	f.warnings = []core.Warning{
		{Code: core.WarnSignMissing, Subject: "cam03", Clause: "000 §4-3",
			Text: core.Label{Ja: "カメラ cam03 は設置標識（様式第１号）が掲示されていないまま稼働しています", En: "camera cam03 records with no sign posted (form 1)"}},
		{Code: core.WarnInspectionOverdue, Subject: "cam02", Clause: "000 §7-5",
			Text: core.Label{Ja: "カメラ cam02 の定期点検が期限（2026-11-01）を過ぎています", En: "camera cam02 inspection overdue since 2026-11-01"}},
	}
	f.sched = []core.InspectionDue{
		{Camera: "cam01", Last: testNow.Add(-100 * 24 * time.Hour), Due: testNow.Add(265 * 24 * time.Hour), State: core.InspectionOK},
		{Camera: "cam02", Last: testNow.Add(-385 * 24 * time.Hour), Due: testNow.Add(-20 * 24 * time.Hour), State: core.InspectionOverdue},
		{Camera: "cam03", Last: testNow.Add(-360 * 24 * time.Hour), Due: testNow.Add(5 * 24 * time.Hour), State: core.InspectionDueSoonState},
	}
	f.custody = []core.CustodyRecord{
		{ID: "C-2026-0002", Location: "本庁舎3階 サーバー室", Cabinet: "ラック保管庫B（施錠）", KeyHolder: "山田 太郎",
			AntiRemoval: "床にボルト固定", Since: testNow.Add(-40 * 24 * time.Hour), CreatedBy: "山田 太郎", CreatedAt: testNow.Add(-40 * 24 * time.Hour)},
		{ID: "C-2026-0001", Location: "本庁舎2階 危機管理室", Cabinet: "書庫A", KeyHolder: "山田 太郎",
			AntiRemoval: "ワイヤーロック", Since: testNow.Add(-200 * 24 * time.Hour), CreatedBy: "system", CreatedAt: testNow.Add(-200 * 24 * time.Hour)},
	}
	f.plans = []core.LayoutPlan{
		{ID: "L-2026-0001", Site: "本庁舎", FileName: "honchosha-haichizu.pdf", SHA256: strings.Repeat("3f", 32), Bytes: 482133,
			Cameras: []string{"cam01", "cam02", "cam03"}, CreatedBy: "山田 太郎", CreatedAt: testNow.Add(-30 * 24 * time.Hour)},
	}
	f.maint = []core.MaintenanceRecord{
		{ID: "M-2026-0003", Kind: core.MaintInspection, Camera: "cam01", Date: testNow.Add(-100 * 24 * time.Hour),
			Performer: "Tanaka Ken", Notes: "レンズ清掃、画角確認", CreatedBy: "Tanaka Ken", CreatedAt: testNow.Add(-100 * 24 * time.Hour)},
		{ID: "M-2026-0002", Kind: core.MaintSignPosted, Camera: "cam02", Date: testNow.Add(-150 * 24 * time.Hour),
			Performer: "四街道看板", CreatedBy: "山田 太郎", CreatedAt: testNow.Add(-150 * 24 * time.Hour)},
	}
	f.keys = []core.Key{
		{Fingerprint: yamada.Fingerprint, Name: yamada.Name, Role: core.RoleManager, Type: "ssh-ed25519",
			EnrolledAt: testNow.Add(-90 * 24 * time.Hour), EnrolledBy: "system", JobTitle: "危機管理室長", Section: "危機管理室",
			Pledge: &core.PledgeRecord{Version: "000-11/1", TextSHA256: pledgeSum(f.policy), At: testNow.Add(-90 * 24 * time.Hour), Witness: "system"}},
		{Fingerprint: sato.Fingerprint, Name: sato.Name, Role: core.RoleOperator, Type: "ssh-ed25519",
			EnrolledAt: testNow.Add(-60 * 24 * time.Hour), EnrolledBy: yamada.Name, JobTitle: "主事", Section: "危機管理室",
			Pledge: &core.PledgeRecord{Version: "000-11/1", TextSHA256: pledgeSum(f.policy), At: testNow.Add(-60 * 24 * time.Hour), Witness: yamada.Name}},
		{Fingerprint: tech.Fingerprint, Name: tech.Name, Role: core.RoleTechnician, Type: "ecdsa-sha2-nistp256",
			EnrolledAt: testNow.Add(-30 * 24 * time.Hour), EnrolledBy: yamada.Name},
		{Fingerprint: "SHA256:oldDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD", Name: "鈴木 一郎", Role: core.RoleOperator,
			Type: "ssh-rsa", EnrolledAt: testNow.Add(-200 * 24 * time.Hour), EnrolledBy: yamada.Name,
			RevokedAt: testNow.Add(-100 * 24 * time.Hour)},
	}
	f.refused = []core.RefusedKey{
		{Fingerprint: "SHA256:newKeyEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE", KeyType: "ssh-ed25519",
			AuthorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly new@laptop", RemoteAddr: "192.0.2.44:51515",
			FirstSeen: testNow.Add(-20 * time.Minute), LastSeen: testNow.Add(-5 * time.Minute), Count: 3},
		{Fingerprint: "SHA256:scanFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", KeyType: "ssh-rsa",
			AuthorizedKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQScanner", RemoteAddr: "203.0.113.9:40000",
			FirstSeen: testNow.Add(-3 * 24 * time.Hour), LastSeen: testNow.Add(-26 * time.Hour), Count: 41},
	}
	sort.Slice(f.cams, func(i, j int) bool { return f.cams[i].ID < f.cams[j].ID })
	return f
}

// pledgeSum is the hash core records with an accepted pledge (so the
// fake's people have pledged the current wording).
func pledgeSum(p core.Policy) string {
	sum := sha256.Sum256([]byte(p.Pledge.Version + "\n" + p.Pledge.Text))
	return hex.EncodeToString(sum[:])
}

func actorFor(r core.Role) core.Actor {
	switch r {
	case core.RoleManager:
		return core.Actor{Fingerprint: "SHA256:mgrYamadaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Name: "山田 太郎", Role: r}
	case core.RoleOperator:
		return core.Actor{Fingerprint: "SHA256:opSatoBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", Name: "佐藤 花子", Role: r}
	case core.RoleTechnician:
		return core.Actor{Fingerprint: "SHA256:techCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", Name: "Tanaka Ken", Role: r}
	}
	return core.Actor{Fingerprint: "SHA256:viewer", Name: "viewer", Role: r}
}

// Checkpoint and VerifyLedgerProgress make the fake a ledgerBackend.
func (f *fakeBackend) Checkpoint(a core.Actor) (core.Checkpoint, error) {
	f.record("Checkpoint %s", a.Role)
	cp := core.Checkpoint{Origin: "mimamori/yotsukaido-1", Size: uint64(len(f.ledger)), Time: testNow,
		Fingerprint: "SHA256:hostkeyhostkeyhostkeyhostkeyhostkeyhostkey0"}
	copy(cp.Root[:], "0123456789abcdef0123456789abcdef")
	return cp, nil
}

func (f *fakeBackend) VerifyLedgerProgress(a core.Actor, progress func(done, total uint64)) (core.VerifyReport, error) {
	f.record("VerifyLedgerProgress %s", a.Role)
	n := uint64(len(f.ledger))
	for i := uint64(1); i <= n; i++ {
		progress(i, n)
	}
	return core.VerifyReport{Entries: n, OK: true}, nil
}
