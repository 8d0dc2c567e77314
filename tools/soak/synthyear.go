package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"mimamori/core"
	"mimamori/keys"
	"mimamori/tools/soak/synth"
)

// syntheticYear writes a data directory whose ledger is a year of this
// release's steady state as the soak measured it (64 cameras' hourly
// erasure proofs, the day's other machine records and people's acts),
// built by core.BuildSyntheticLedger in minutes instead of a day of
// simulation, then opened by core as serve opens it (host key, camera
// register) with the soak's people enrolled. The console benchmark runs
// on it like on a soak's directory, with a small new ring: a console on
// a year-old ledger when the full year has not been simulated.
func syntheticYear(p params, machinePerDay, peoplePerDay int, log *slog.Logger) error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	if entries, _ := os.ReadDir(p.Dir); len(entries) > 0 {
		return fmt.Errorf("%s is not empty", p.Dir)
	}
	t0 := time.Now()
	n, err := core.BuildSyntheticLedger(filepath.Join(p.Dir, "mimamori.db"), core.SyntheticLedger{Start: p.Start,
		Days: p.Days, Cameras: p.Cameras, MachinePerDay: machinePerDay, PeoplePerDay: peoplePerDay})
	if err != nil {
		return err
	}
	fmt.Printf("synthetic year: %d entries in %s\n", n, time.Since(t0).Round(time.Second))
	// A ring of a few blocks per camera: the console reads its state, and
	// the benchmark records into it.
	p.Capacity = int64(p.Cameras) * 16 * p.BlockSize
	w := &world{p: p, clk: &simClock{wall: time.Now().UTC(), mono: time.Hour}, log: log}
	if err := w.open(); err != nil {
		return err
	}
	ppl, err := enrol(w)
	if err != nil {
		w.close()
		return err
	}
	_ = ppl
	if err := w.close(); err != nil {
		return err
	}
	g := synth.Geometry{Cameras: p.Cameras, Capacity: p.Capacity, BlockSize: p.BlockSize, FragmentBytes: p.Payload, FragmentSeconds: p.FragSeconds,
		Policy: p.Policy.Name, RetentionDays: p.Policy.RetentionDays, HoldShare: p.Policy.HoldShare,
		ApplianceID: p.ApplianceID, Start: p.Start, Days: p.Days, ManagerKey: managerKeyFile, OperatorKeys: operatorKeyFiles}
	if err := g.Save(p.Dir); err != nil {
		return err
	}
	t0 = time.Now()
	rep, err := core.VerifyLedgerFile(filepath.Join(p.Dir, "mimamori.db"), core.VerifyOptions{})
	if err != nil || !rep.OK {
		return fmt.Errorf("offline verify: %+v %v", rep, err)
	}
	fmt.Printf("synthetic year: offline verify of %d entries in %s; mimamori.db %s MiB; data in %s (host key %s)\n",
		rep.Entries, time.Since(t0).Round(time.Millisecond), mib(fileSize(filepath.Join(p.Dir, "mimamori.db"))), p.Dir,
		keys.HostKeyPath(p.Dir))
	return nil
}
