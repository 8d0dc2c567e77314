package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"mimamori/core"
	"mimamori/tools/soak/synth"
)

type sim struct {
	p   params
	w   *world
	rec *recorder
	ppl *people
	clk *simClock
	sec int64 // simulated seconds since the start

	// per day
	standing []time.Duration
	notes    []string
	offline  time.Duration
	lastSeq  uint64
	events0  uint64
	erased0  uint64
	frags0   uint64
	lastStep int64
	began    time.Time
	ctx      context.Context
}

func newSim(p params, log *slog.Logger) (*sim, error) {
	clk := &simClock{wall: p.Start, mono: time.Hour}
	w := &world{p: p, clk: clk, log: log}
	if err := w.open(); err != nil {
		return nil, err
	}
	s := &sim{p: p, w: w, clk: clk, began: time.Now()}
	ppl, err := enrol(w)
	if err != nil {
		return nil, err
	}
	s.ppl = ppl
	g := synth.Geometry{Cameras: p.Cameras, Capacity: p.Capacity, BlockSize: p.BlockSize, FragmentBytes: p.Payload, FragmentSeconds: p.FragSeconds,
		Policy: p.Policy.Name, RetentionDays: p.Policy.RetentionDays, HoldShare: p.Policy.HoldShare,
		ApplianceID: p.ApplianceID, Start: p.Start, Days: p.Days, ManagerKey: managerKeyFile, OperatorKeys: operatorKeyFiles}
	if err := g.Save(p.Dir); err != nil {
		return nil, err
	}
	init, err := synth.Init()
	if err != nil {
		return nil, err
	}
	payload := make([][]byte, p.FragSeconds+1)
	for k := 1; k <= p.FragSeconds; k++ {
		if payload[k], err = synth.Fragment(p.payloadFor(k)); err != nil {
			return nil, err
		}
	}
	tooLarge, err := synth.Fragment(int(p.BlockSize) + 512)
	if err != nil {
		return nil, err
	}
	s.rec = &recorder{w: w, init: init, payload: payload, fragSecs: p.FragSeconds, tooLarge: tooLarge, parallel: p.Parallel}
	for i := range p.Cameras {
		s.rec.cams = append(s.rec.cams, &simCamera{id: cameraID(i)})
	}
	if err := s.rec.connect(); err != nil {
		return nil, err
	}
	return s, nil
}

// tick lets one simulated second pass: every camera's fragment, and what
// the appliance's loops do on their periods (ring sync tick and sweep,
// core's machine records, the export-copy sweeper, the console's
// standing check).
func (s *sim) tick() error {
	s.clk.Advance(time.Second)
	s.sec++
	now := s.clk.Now()
	if err := s.rec.second(now); err != nil {
		return err
	}
	if s.sec%int64(s.p.SyncEvery) == 0 {
		before := s.w.rg.ClockSteps()
		// Run sweeps every 15 s (MaxBlockSpan/2): here at the first step
		// at or after each multiple of SweepEvery.
		sweep := s.sec/int64(s.p.SweepEvery) != s.lastStep/int64(s.p.SweepEvery)
		s.lastStep = s.sec
		if err := s.w.rg.Step(sweep); err != nil {
			return fmt.Errorf("ring: %w", err)
		}
		if s.w.rg.ClockSteps() != before {
			s.rec.clockStepped() // ingest re-anchors at the next keyframe
		}
	}
	if s.sec%30 == 0 {
		s.w.st.TickMachineRecords()
	}
	if s.sec%int64(s.p.ExportSweepEvery) == 0 {
		if _, err := s.w.st.SweepExportCopies(core.SystemActor("custody"), s.w.rg.TrustedNow()); err != nil {
			return fmt.Errorf("export copies: %w", err)
		}
	}
	if s.p.Progress && s.sec%(6*3600) == 0 {
		fmt.Printf("  … %s (simulated), %s real\n", now.Format("2006-01-02 15:04"), time.Since(s.began).Round(time.Second))
	}
	if s.sec%600 == 0 {
		t0 := time.Now()
		rep, err := s.w.st.ChainStatus(s.ppl.manager)
		d := time.Since(t0)
		if err != nil {
			return err
		}
		if !rep.Pending {
			if !rep.OK {
				return fmt.Errorf("standing check: ledger broken: %+v", rep)
			}
			s.standing = append(s.standing, d)
		}
	}
	return nil
}

// until runs the recorder up to wall time t (on the simulated clock).
func (s *sim) advance(d time.Duration) error {
	for n := int64(d / time.Second); n > 0; n-- {
		if err := s.tick(); err != nil {
			return err
		}
	}
	return nil
}

// untilOfDay runs until the given time of day (since the day's start).
func (s *sim) untilOfDay(dayStart time.Time, at time.Duration) error {
	// The wall clock may have been stepped: count elapsed time from the
	// monotonic clock's view of the day, i.e. seconds since the start.
	target := int64(dayStart.Sub(s.p.Start)/time.Second) + int64(at/time.Second)
	for s.sec < target {
		if err := s.tick(); err != nil {
			return err
		}
		if s.sec%3600 == 0 && s.ctx.Err() != nil {
			return s.ctx.Err()
		}
	}
	return nil
}

func (s *sim) run(ctx context.Context, out *csvOut) error {
	s.ctx = ctx
	for day := range s.p.Days {
		t0 := time.Now()
		dayStart := s.p.Start.AddDate(0, 0, day) // on the simulated timeline (monotonic)
		s.notes, s.standing, s.offline = nil, nil, 0
		s.faults(day)
		// 01:00 UTC is 10:00 in Japan: the police request.
		if s.p.RestartEvery > 0 && day > 0 && day%s.p.RestartEvery == 0 {
			if err := s.untilOfDay(dayStart, 30*time.Minute); err != nil {
				return err
			}
			if err := s.restart(2 * time.Minute); err != nil {
				return err
			}
		}
		if err := s.untilOfDay(dayStart, time.Hour); err != nil {
			return err
		}
		if err := s.ppl.policeRequest(s.w, day, s.advance); err != nil {
			return fmt.Errorf("day %d: police request: %w", day, err)
		}
		if s.p.HoldEvery > 0 && day%s.p.HoldEvery == 0 && day > 0 {
			if err := s.ppl.hold(s.w, day); err != nil {
				return fmt.Errorf("day %d: %w", day, err)
			}
		}
		if day == s.p.ClockStepDay {
			if err := s.untilOfDay(dayStart, 6*time.Hour); err != nil {
				return err
			}
			s.clk.Step(time.Hour)
			s.notes = append(s.notes, "wall clock stepped +1 h at 06:00, back at 12:00")
			if err := s.untilOfDay(dayStart, 12*time.Hour); err != nil {
				return err
			}
			s.clk.Step(-time.Hour)
		}
		if err := s.untilOfDay(dayStart, 24*time.Hour-time.Second); err != nil {
			return err
		}
		row, err := s.measure(day, time.Since(t0))
		if err != nil {
			return err
		}
		if s.ppl.lastErr != nil {
			return fmt.Errorf("day %d: %w", day, s.ppl.lastErr)
		}
		fmt.Println(row.line())
		if err := out.write(row.record()); err != nil {
			return err
		}
		if err := s.advance(time.Second); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// faults puts the two misbehaving cameras in and out of their week.
func (s *sim) faults(day int) {
	set := func(c *simCamera, f fault, from int, what string) {
		switch {
		case from >= 0 && day == from:
			c.fault = f
			s.notes = append(s.notes, c.id+" "+what+" for a week")
		case from >= 0 && day == from+7:
			c.fault = faultNone
			s.notes = append(s.notes, c.id+" healthy again")
		}
	}
	cams := s.rec.cams
	set(cams[len(cams)-2], faultBackwards, s.p.BackwardsDay, "timestamps backwards every GOP")
	set(cams[len(cams)-1], faultNoBlock, s.p.NoBlockDay, "gets no block")
}

// restart stops the appliance as serve does, leaves it off for down (the
// offline verification runs meanwhile, as an auditor would), and starts
// it again: the ring recovers, core writes what a run left pending, and
// every camera reconnects.
func (s *sim) restart(down time.Duration) error {
	if err := s.w.close(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	t0 := time.Now()
	rep, err := core.VerifyLedgerFile(s.w.dbPath(), core.VerifyOptions{})
	s.offline = time.Since(t0)
	if err != nil || !rep.OK {
		return fmt.Errorf("offline verify: %+v %v", rep, err)
	}
	s.clk.Advance(down)
	s.sec += int64(down / time.Second)
	if err := s.w.open(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := s.rec.connect(); err != nil {
		return err
	}
	s.notes = append(s.notes, fmt.Sprintf("restart (%s off)", down))
	return nil
}

func (s *sim) measure(day int, real time.Duration) (dayRow, error) {
	row := dayRow{Day: day + 1, Date: s.clk.Now().Format("2006-01-02"), Real: real, Notes: s.notes, OfflineTime: s.offline}
	var err error
	var show func(core.Entry)
	if s.p.ShowErasures != "" {
		show = func(e core.Entry) {
			if e.Subject == s.p.ShowErasures {
				fmt.Printf("  #%d %s %s %v\n", e.Seq, e.Time.Format(time.RFC3339), e.Subject, e.Details)
			}
		}
	}
	if s.lastSeq, err = countLedger(s.w.st, s.ppl.manager, s.lastSeq, &row, show); err != nil {
		return row, err
	}
	row.StandingP50, row.StandingP99, row.StandingMax = percentiles(s.standing)
	ev := s.rec.events.Load()
	row.EventsSent, s.events0 = ev-s.events0, ev
	st := s.w.rg.Stats()
	var erased uint64
	for _, c := range st.Erased {
		erased += c.Blocks
	}
	if erased < s.erased0 { // the ring's counters restart with the process
		s.erased0 = 0
	}
	row.ErasedBlocks, s.erased0 = erased-s.erased0, erased
	row.FreeBlocks = st.FreeBlocks
	var frags uint64
	for _, c := range s.rec.cams {
		frags += c.written
	}
	row.Fragments, s.frags0 = frags-s.frags0, frags
	// The manager's full verification (the console's V): the same
	// streaming pass `mimamori ledger verify` runs offline.
	t0 := time.Now()
	rep, err := s.w.st.VerifyLedger(s.ppl.manager)
	row.VerifyTime = time.Since(t0)
	if err != nil || !rep.OK {
		return row, fmt.Errorf("verify: %+v %v", rep, err)
	}
	row.LedgerEntries = rep.Entries
	row.DBBytes = fileSize(s.w.dbPath())
	row.IndexBytes = fileSize(s.w.indexPath())
	row.KeysBytes = fileSize(filepath.Join(s.p.Dir, "keys.dat"))
	memory(&row)
	return row, nil
}

// finish stops the appliance and verifies its ledger offline, as after
// the year.
func (s *sim) finish() error {
	if s.w.st == nil {
		return nil
	}
	if err := s.w.close(); err != nil {
		return err
	}
	t0 := time.Now()
	rep, err := core.VerifyLedgerFile(s.w.dbPath(), core.VerifyOptions{})
	if err != nil || !rep.OK {
		return fmt.Errorf("offline verify: %+v %v", rep, err)
	}
	fmt.Printf("soak: end: offline verify of %d entries in %s; mimamori.db %s MiB, index.db %s MiB\n",
		rep.Entries, time.Since(t0).Round(time.Millisecond), mib(fileSize(s.w.dbPath())), mib(fileSize(s.w.indexPath())))
	for _, path := range []string{s.w.dbPath(), s.w.indexPath()} {
		r, err := bucketReport(path)
		if err != nil {
			return err
		}
		fmt.Print(r)
	}
	return nil
}
