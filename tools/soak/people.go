package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"mimamori/core"
	"mimamori/keys"
)

// The people: one manager (whose private key the console benchmark uses
// afterwards) and two operators, enrolled the way `mimamori keys add`
// does it before the first start.
type people struct {
	manager, op1, op2 core.Actor
	pass              []byte
	exportDir         string
	requests          int
	holds             []string // manager holds still in force, oldest first
	lastErr           error
}

// Private keys in the data dir: the console benchmark logs in with them.
const managerKeyFile = "soak-manager-key"

var operatorKeyFiles = []string{"soak-op1-key", "soak-op2-key"}

func enrol(w *world) (*people, error) {
	sys := core.SystemActor("soak")
	var ps [3]core.Actor
	for i, who := range []struct {
		name string
		role core.Role
		file string
	}{{"管理 花子", core.RoleManager, managerKeyFile}, {"担当 太郎", core.RoleOperator, operatorKeyFiles[0]}, {"担当 次郎", core.RoleOperator, operatorKeyFiles[1]}} {
		line, err := keys.GenerateUserKey(filepath.Join(w.p.Dir, who.file))
		if err != nil {
			return nil, err
		}
		k, err := w.st.EnrollKey(sys, who.name, who.role, line)
		if err != nil {
			return nil, fmt.Errorf("enrol %s: %w", who.name, err)
		}
		ps[i] = k.Actor()
	}
	exportDir := filepath.Join(w.p.Dir, "exports")
	if err := os.MkdirAll(exportDir, 0o700); err != nil {
		return nil, err
	}
	p := &people{manager: ps[0], op1: ps[1], op2: ps[2], pass: []byte("soak export passphrase 2026"),
		exportDir: exportDir}
	if err := w.st.SetExportPassphrase(p.manager, p.pass); err != nil {
		return nil, err
	}
	return p, nil
}

// session ledgers a console login and returns its logout.
func (p *people) session(w *world, a core.Actor, n int) func() {
	sid := fmt.Sprintf("%016x", n)
	remote := "192.0.2.10:" + strconv.Itoa(40000+n%20000)
	p.note(w.st.RecordSession(a, core.ActionLogin, remote, map[string]string{"session": sid}))
	return func() { p.note(w.st.RecordSession(a, core.ActionLogout, remote, map[string]string{"session": sid})) }
}

func (p *people) note(err error) {
	if err != nil && p.lastErr == nil {
		p.lastErr = err
	}
}

// policeRequest takes one police request through its whole workflow to
// close, with core's own functions in the order the console calls them:
// registered (provisional hold), search instructed, the operator views
// the footage for it and records what was found, the manager approves
// and protects the package, forms printed, the operator exports (a real
// encrypted package from the ring), the manager hands it over (the copy
// is then erased by the sweeper) and closes the request. Each step is
// a minute of simulated time apart (advance moves the clock and runs the
// recorder meanwhile).
func (p *people) policeRequest(w *world, day int, advance func(time.Duration) error) error {
	p.requests++
	now := w.clk.Now()
	cam := cameraID((day*7 + 3) % (w.p.Cameras - 2)) // never the two misbehaving cameras
	// Yesterday afternoon's footage (or, with a short retention, what is
	// still kept).
	from := now.Add(-min(20*time.Hour, w.p.Policy.Retention()/2)).Truncate(time.Minute)
	if from.Before(w.p.Start) { // the first day: this morning's footage
		from = w.p.Start.Add(10 * time.Minute)
	}
	to := from.Add(30 * time.Minute)
	op := p.op1
	if day%2 == 1 {
		op = p.op2
	}
	opOut := p.session(w, op, day*10+1)
	r, err := w.st.RegisterRequest(op, core.RequestInput{ApplicantAddress: "千葉県四街道市鹿渡無番地", Agency: "四街道警察署",
		Representative: "署長 加藤", ContactPerson: "巡査部長 森", Phone: "043-000-0000", Purpose: "investigation",
		Ground: p.ground(w), Cameras: []string{cam}, From: from, To: to,
		WrittenRef: fmt.Sprintf("四署刑第%d号", p.requests)})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	if err := advance(time.Minute); err != nil {
		return err
	}
	mgrOut := p.session(w, p.manager, day*10+2)
	if _, err := w.st.InstructSearch(p.manager, r.ID, op.Name); err != nil {
		return fmt.Errorf("instruct: %w", err)
	}
	if err := advance(time.Minute); err != nil {
		return err
	}
	if err := w.st.AuthorizeView(op, core.ViewInput{Camera: cam, From: from, To: to, Request: r.ID}); err != nil {
		return fmt.Errorf("view: %w", err)
	}
	started := w.clk.Now()
	if err := advance(5 * time.Minute); err != nil {
		return err
	}
	p.note(w.st.RecordViewing(op, core.ViewRecord{Camera: cam, From: from, To: to, Started: started, Ended: w.clk.Now(),
		Bytes: 30 * 60 * 500_000, SessionID: "console-soak" + strconv.Itoa(day), Request: r.ID}))
	found := core.FoundRange{Camera: cam, From: from.Add(5 * time.Minute), To: from.Add(15 * time.Minute)}
	if _, err := w.st.RecordResult(op, r.ID, "found", "対象者 10:05-10:15 に映る", found); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	if err := advance(time.Minute); err != nil {
		return err
	}
	if _, err := w.st.Approve(p.manager, r.ID, core.ApprovalInput{Judgement: "捜査に必要な範囲に限り提供する"}); err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	if _, err := w.st.ProtectPackage(p.manager, r.ID, ""); err != nil {
		return fmt.Errorf("protect: %w", err)
	}
	for _, form := range []int{2, 3} {
		if _, err := w.st.IssueForm(p.manager, r.ID, form); err != nil {
			return fmt.Errorf("form %d: %w", form, err)
		}
	}
	mgrOut()
	if err := advance(time.Minute); err != nil {
		return err
	}
	if _, err := w.st.ExportRequest(context.Background(), op, r.ID, p.pass, p.exportDir, nil); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	opOut()
	if err := advance(3 * time.Hour); err != nil {
		return err
	}
	mgrOut = p.session(w, p.manager, day*10+3)
	if _, err := w.st.RecordProvision(p.manager, r.ID, core.Provision{Recipient: "巡査部長 森", Agency: "四街道警察署",
		IDDocType: "警察手帳", Date: w.clk.Now(), Medium: "USBメモリ 3号"}); err != nil {
		return fmt.Errorf("provide: %w", err)
	}
	if _, err := w.st.CloseRequest(p.manager, r.ID); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	mgrOut()
	return nil
}

func (p *people) ground(w *world) string {
	for _, g := range w.p.Policy.Grounds {
		if g.Code == "investigation" || g.Code == "law" {
			return g.Code
		}
	}
	return w.p.Policy.Grounds[0].Code
}

// hold: the manager keeps an hour of a camera's footage from yesterday
// for 30 days (an incident report), and releases the oldest hold early
// when three are in force.
func (p *people) hold(w *world, day int) error {
	now := w.clk.Now()
	out := p.session(w, p.manager, day*10+5)
	defer out()
	cam := cameraID((day*11 + 5) % (w.p.Cameras - 2))
	from := now.Add(-min(30*time.Hour, w.p.Policy.Retention()/2)).Truncate(time.Hour)
	if from.Before(w.p.Start) {
		from = w.p.Start
	}
	h, err := w.st.AddHold(p.manager, core.HoldInput{Camera: cam, From: from, To: from.Add(time.Hour),
		Until: now.Add(30 * 24 * time.Hour), Reason: fmt.Sprintf("事故報告 第%d号のため保存", day)})
	if err != nil {
		return fmt.Errorf("hold: %w", err)
	}
	p.holds = append(p.holds, h.ID)
	if len(p.holds) >= 3 {
		if err := w.st.ReleaseHold(p.manager, p.holds[0], "保険会社への提出が済んだため"); err != nil {
			return fmt.Errorf("release hold: %w", err)
		}
		p.holds = p.holds[1:]
	}
	return nil
}
