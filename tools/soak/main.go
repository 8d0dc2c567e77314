// Command soak is a time-compressed simulation of a year of mimamori at
// 64 cameras: synthetic fragments written through the real ring, index
// and core on a simulated clock, with the people, holds, faults, clock
// step and restarts of a year, measured per simulated day. See
// docs/soak.md for the method and the results.
//
//	go run ./tools/soak -days 365 -csv docs/soak-year.csv
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"mimamori/core"
)

// params are the soak's scale and schedule.
type params struct {
	Dir         string
	Days        int
	Cameras     int
	PolicyName  string
	Policy      core.Policy
	ApplianceID string
	Start       time.Time

	Bitrate       int64 // bits/s per camera, the real rate
	RealBlock     int64 // the real block size
	Scale         int64 // real bytes per simulated byte
	BlockSize     int64 // RealBlock / Scale
	FragSeconds   int   // seconds of footage one fragment stands for
	FragsPerBlock int   // fragments a block holds at the real rate (and here)
	Payload       int   // simulated bytes of a whole fragment (FragSeconds of footage)
	BlockSeconds  int   // seconds of one camera's footage a block holds: FragsPerBlock × FragSeconds
	CapacityDays  float64
	HoldShare     float64
	Capacity      int64

	SyncEvery  int // simulated seconds between ring steps (Run's tick is 1 s)
	SweepEvery int // simulated seconds between retention sweeps (Run's: 15 s)
	// ExportSweepEvery is simulated seconds between core's export-copy
	// sweeps (serve: 1 min).
	ExportSweepEvery int
	Parallel         int // goroutines writing the cameras' fragments
	RestartEvery     int // days
	ClockStepDay     int
	BackwardsDay     int
	NoBlockDay       int
	HoldEvery        int
	Keep             bool
	ShowErasures     string
	Progress         bool
	CSV              string
}

func main() {
	var p params
	var start string
	var retention float64
	flag.StringVar(&p.Dir, "dir", "", "data directory (default: a new directory under $TMPDIR, removed at the end unless -keep)")
	flag.IntVar(&p.Days, "days", 365, "simulated days")
	flag.IntVar(&p.Cameras, "cameras", 64, "cameras")
	flag.StringVar(&p.PolicyName, "policy", "city-standard", "policy profile (city-standard, company-template)")
	flag.Float64Var(&retention, "retention-days", 0, "retention (default: the policy's)")
	flag.StringVar(&start, "start", "", "first simulated day, YYYY-MM-DD UTC (default: so that the last day ends today)")
	flag.Int64Var(&p.Bitrate, "bitrate", 4_000_000, "bits/s per camera")
	flag.Int64Var(&p.RealBlock, "block-size", 4<<20, "the real ring block size in bytes")
	flag.IntVar(&p.FragSeconds, "fragment-seconds", 1, "seconds of footage one fragment stands for (N× the bytes of a 1-s fragment): index entries and appends drop by N; bytes, ledger entries and per-second fault events do not, blocks per hour change only by how whole fragments pack a block")
	flag.Int64Var(&p.Scale, "scale", 1024, "bytes of the real rate per byte written: payload and block are both divided by it")
	flag.Float64Var(&p.CapacityDays, "capacity-days", 0, "ring capacity in days of footage at the full rate (default: retention × 1.1)")
	flag.Float64Var(&p.HoldShare, "hold-share", 0.05, "storage.hold_share")
	flag.IntVar(&p.SyncEvery, "sync-every", 10, "simulated seconds between ring steps (sync, holds, reserve; Run's tick is 1 s)")
	flag.IntVar(&p.SweepEvery, "sweep-every", 15, "simulated seconds between retention sweeps (Run's: 15 s)")
	flag.IntVar(&p.ExportSweepEvery, "export-sweep-every", 60, "simulated seconds between core's export-copy sweeps (serve: 60)")
	flag.IntVar(&p.Parallel, "parallel", 2, "goroutines writing the cameras' fragments (each camera has its own in serve)")
	flag.IntVar(&p.RestartEvery, "restart-every", 30, "days between restarts (close and reopen ring and core); 0: none")
	flag.IntVar(&p.ClockStepDay, "clock-step-day", 100, "day the wall clock is stepped +1 h (and back 6 h later); -1: never")
	flag.IntVar(&p.BackwardsDay, "backwards-day", 40, "first day of the week a camera's timestamps go backwards every GOP; -1: never")
	flag.IntVar(&p.NoBlockDay, "noblock-day", 60, "first day of the week a camera can get no block; -1: never")
	flag.IntVar(&p.HoldEvery, "hold-every", 5, "days between the manager's holds")
	flag.StringVar(&p.ShowErasures, "show-erasures", "", "print this camera's erasure entries each day")
	flag.BoolVar(&p.Progress, "progress", false, "print a line every 6 simulated hours")
	flag.BoolVar(&p.Keep, "keep", false, "keep the data directory (for the console benchmark)")
	flag.StringVar(&p.CSV, "csv", "", "write the per-day rows to this CSV file")
	flag.StringVar(&p.ApplianceID, "appliance-id", "soak-box", "appliance id")
	synthYear := flag.Bool("synthetic-year", false, "instead of the soak: write -dir with a synthetic ledger of -days (core.BuildSyntheticLedger, the soak's daily mix) for the console benchmark")
	synthMachine := flag.Int("synthetic-machine", 10, "with -synthetic-year: machine entries a day besides erasure proofs")
	synthPeople := flag.Int("synthetic-people", 25, "with -synthetic-year: people's acts a day")
	dedup := flag.Int("dedup-blocks", 0, "instead of the soak: two laps of erasure proofs of a ring of this many blocks through core alone (mimamori.db's deduplication bucket at full size)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:29100) while running")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { fmt.Fprintln(os.Stderr, "soak: pprof:", http.ListenAndServe(*pprofAddr, nil)) }()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}

	if err := p.derive(start, retention); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if *synthYear {
		if p.Dir == "" {
			fmt.Fprintln(os.Stderr, "soak: -synthetic-year needs -dir")
			os.Exit(2)
		}
		if err := syntheticYear(p, *synthMachine, *synthPeople, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		return
	}
	if *dedup > 0 {
		if err := dedupLaps(p, *dedup, 2, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, p); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// derive fills in the scale: the simulated fragment is sized so a block
// holds exactly as many fragments as a real block holds real ones (the
// ring's per-record overhead — 64-byte header, a 16-byte tag per 64 KiB
// chunk, 8-byte alignment — included), so blocks per hour per camera,
// erasures, index entries and ledger records are those of the real rate.
func (p *params) derive(start string, retention float64) error {
	pol, err := core.PolicyByName(p.PolicyName)
	if err != nil {
		return err
	}
	if retention > 0 {
		pol.RetentionDays = retention
	}
	pol.HoldShare = p.HoldShare
	p.Policy = pol
	if p.Cameras < 3 || p.Days < 1 || p.Scale < 1 || p.SyncEvery < 1 || p.SweepEvery < 1 || p.ExportSweepEvery < 1 || p.Parallel < 1 || p.FragSeconds < 1 || p.FragSeconds > 3600 {
		return fmt.Errorf("need at least 3 cameras, 1 day, scale ≥ 1, sync-every, sweep-every, export-sweep-every and parallel ≥ 1, fragment-seconds 1..3600")
	}
	p.BlockSize = p.RealBlock / p.Scale
	if p.BlockSize < 4096 || p.BlockSize%4096 != 0 {
		return fmt.Errorf("block size %d / scale %d = %d: the ring needs a multiple of 4096", p.RealBlock, p.Scale, p.BlockSize)
	}
	real := p.Bitrate / 8 * int64(p.FragSeconds)
	p.FragsPerBlock = int(p.RealBlock / recordSize(real))
	if p.FragsPerBlock < 1 || (p.FragSeconds > 1 && p.FragsPerBlock < 2) {
		return fmt.Errorf("%d-s fragments of %d bytes: %d fit a %d-byte block, want at least %d", p.FragSeconds, real,
			p.FragsPerBlock, p.RealBlock, min(p.FragSeconds, 2))
	}
	p.Payload = scaledPayload(p.BlockSize / int64(p.FragsPerBlock))
	if p.Payload <= 0 || int(p.BlockSize/recordSize(int64(p.Payload))) != p.FragsPerBlock {
		return fmt.Errorf("cannot scale: %d-byte fragments in %d-byte blocks", p.Payload, p.BlockSize)
	}
	// A partial fragment (a camera re-anchored mid-fragment) must still
	// hold its fMP4 boxes.
	if p.Payload/p.FragSeconds < 256 {
		return fmt.Errorf("%d-byte fragments of %d s: under 256 bytes a second", p.Payload, p.FragSeconds)
	}
	p.BlockSeconds = p.FragsPerBlock * p.FragSeconds
	if p.CapacityDays == 0 {
		p.CapacityDays = pol.RetentionDays * 1.1
	}
	perCamDayBlocks := float64(24*3600) / float64(p.BlockSeconds)
	blocks := int64(p.CapacityDays*perCamDayBlocks*float64(p.Cameras)) + int64(4*p.Cameras)
	p.Capacity = blocks * p.BlockSize
	if start == "" {
		// The last simulated day ends at midnight today (UTC), so the
		// console benchmark afterwards finds a ledger ending just before now.
		p.Start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -p.Days)
	} else if p.Start, err = time.Parse("2006-01-02", start); err != nil {
		return err
	}
	return nil
}

// scaledPayload is the largest payload whose record fits in slot bytes
// (8-byte aligned).
func scaledPayload(slot int64) int {
	chunks := (slot + 65535) / 65536
	n := slot - 64 - 16*chunks
	n -= n % 8
	for n > 0 && recordSize(n) > slot {
		n -= 8
	}
	return int(n)
}

// payloadFor is the simulated bytes of a fragment of secs seconds: the
// whole fragment's bytes in proportion, 8-byte aligned.
func (p params) payloadFor(secs int) int {
	if secs >= p.FragSeconds {
		return p.Payload
	}
	n := p.Payload * secs / p.FragSeconds
	return n - n%8
}

// recordSize is a record's size in the ring (recorder/ring/record.go):
// header, payload, a 16-byte tag per 64 KiB chunk, padded to 8 bytes.
func recordSize(payload int64) int64 {
	chunks := (payload + 65535) / 65536
	n := 64 + payload + 16*max(chunks, 1)
	return (n + 7) &^ 7
}

func run(ctx context.Context, p params) error {
	tmp := p.Dir == ""
	if tmp {
		d, err := os.MkdirTemp("", "mimamori-soak-")
		if err != nil {
			return err
		}
		p.Dir = d
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	if entries, _ := os.ReadDir(p.Dir); len(entries) > 0 {
		return fmt.Errorf("%s is not empty: the soak starts from a new appliance", p.Dir)
	}
	if !p.Keep {
		defer os.RemoveAll(p.Dir)
	}
	out, err := newCSV(p.CSV)
	if err != nil {
		return err
	}
	defer out.close()
	fmt.Printf("soak: %d days from %s, %d cameras at %d bit/s, policy %s (retention %.0f days), scale 1/%d: %d-s fragments of %d bytes (real %d B + %d B record overhead), %d-byte blocks (real %d: %d fragments = %d s a block, %.1f blocks per camera-hour), ring %d blocks = %.1f GiB (%.1f days), data %s\n",
		p.Days, p.Start.Format("2006-01-02"), p.Cameras, p.Bitrate, p.Policy.Name, p.Policy.RetentionDays, p.Scale,
		p.FragSeconds, p.Payload, p.Bitrate/8*int64(p.FragSeconds), recordSize(p.Bitrate/8*int64(p.FragSeconds))-p.Bitrate/8*int64(p.FragSeconds),
		p.BlockSize, p.RealBlock, p.FragsPerBlock, p.BlockSeconds, 3600/float64(p.BlockSeconds),
		p.Capacity/p.BlockSize, float64(p.Capacity)/(1<<30), p.CapacityDays, p.Dir)
	s, err := newSim(p, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	err = s.run(ctx, out)
	if cerr := s.finish(); err == nil {
		err = cerr
	}
	if p.Keep {
		fmt.Printf("soak: data kept in %s (manager key %s)\n", p.Dir, filepath.Join(p.Dir, managerKeyFile))
	}
	return err
}
