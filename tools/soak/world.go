package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"mimamori/appliance"
	"mimamori/core"
	"mimamori/keys"
	"mimamori/recorder/export"
	"mimamori/recorder/ring"
)

// world is the appliance as the soak runs it: core's Store and the ring
// on one data directory, wired as recorder/appliance wire them (the ring
// proves erasures to core, reads holds from core and hands it events),
// both on the simulated clock.
type world struct {
	p      params
	clk    *simClock
	log    *slog.Logger
	signer ssh.Signer
	hostFP string

	st *core.Store
	rg *ring.Ring
}

func (w *world) dbPath() string { return appliance.DBPath(w.p.Dir) }

// open opens core and the ring (creating them on the first call).
func (w *world) open() error {
	if w.signer == nil {
		s, fp, _, err := keys.LoadOrCreateHostKey(w.p.Dir)
		if err != nil {
			return err
		}
		w.signer, w.hostFP = s, fp
	}
	st, err := core.Open(w.dbPath(), core.Options{Now: w.clk.Now, Logger: w.log, Policy: w.p.Policy,
		ManualTick: true, NoSync: true})
	if err != nil {
		return err
	}
	// As appliance.Open: the host key signs checkpoints; the register
	// follows the config.
	if err := st.SetLogSigner(w.p.ApplianceID, w.signer); err != nil {
		st.Close()
		return err
	}
	if err := st.SyncCameras(core.SystemActor("config"), w.cameraRegister()); err != nil {
		st.Close()
		return fmt.Errorf("camera register: %w", err)
	}
	rg, err := ring.Open(ring.Options{
		Dir:       w.p.Dir,
		Capacity:  w.p.Capacity,
		BlockSize: w.p.BlockSize,
		// A block fills before it is sealed by age, as a real 4 MiB block
		// at 4 Mbit/s does (8 s < 30 s), also with coarser blocks.
		MaxBlockSpan: max(30*time.Second, time.Duration(w.p.BlockSeconds+2*w.p.FragSeconds)*time.Second),
		Retention:    w.p.Policy.Retention(),
		HoldShare:    w.p.Policy.HoldShare,
		Now:          w.clk.Now,
		Mono:         w.clk.Mono,
		BootID:       "soak", // one boot: restarts measure downtime on the monotonic clock
		Erasures:     st,
		Holds:        st,
		Events:       st,
		Logger:       w.log,
		NoSync:       true,
	})
	if err != nil {
		st.Close()
		return err
	}
	st.SetFootage(footage{rg: rg, now: w.clk.Now, retention: w.p.Policy.Retention()})
	st.SetExporter(&export.Exporter{Source: rg, Signer: w.signer, Logger: w.log, Now: w.clk.Now,
		ApplianceID: w.p.ApplianceID, Version: "soak"})
	w.st, w.rg = st, rg
	return nil
}

// close stops the appliance as serve does: the ring first (its last
// events handed over), then core, which writes the erasure proofs and
// event summaries still pending.
func (w *world) close() error {
	err := w.rg.Step(false)
	if cerr := w.rg.Close(); cerr != nil {
		err = cerr
	}
	if cerr := w.st.Close(); cerr != nil && err == nil {
		err = cerr
	}
	w.st, w.rg = nil, nil
	return err
}

func cameraID(i int) string { return "cam" + strconv.Itoa(i+1) }

func (w *world) cameraRegister() []core.Camera {
	out := make([]core.Camera, 0, w.p.Cameras)
	for i := range w.p.Cameras {
		out = append(out, core.Camera{ID: cameraID(i), Number: strconv.Itoa(i + 1), Name: "Camera " + strconv.Itoa(i+1),
			Location: "soak site " + strconv.Itoa(i/8+1), Direction: "north", URL: "rtsp://192.0.2.1/" + cameraID(i),
			SignPosted: true})
	}
	return out
}

// footage is core.Footage over the ring, as recorder.Recorder offers it
// (without ingest's per-camera connection state, which the soak has not).
type footage struct {
	rg        *ring.Ring
	now       func() time.Time
	retention time.Duration
}

func (f footage) Coverage(camera string, from, to time.Time) ([]core.Span, error) {
	return f.rg.Coverage(camera, from, to)
}

func (f footage) CheckHold(camera string, from, to time.Time, active []core.HoldRange) error {
	return f.rg.CheckHold(camera, from, to, active)
}

func (f footage) Stats() core.RecorderStats {
	st := core.RecorderStats{Ring: f.rg.Stats()}
	now := f.now()
	for name, u := range f.rg.Usages() {
		cs := core.CameraStats{Camera: name, Connected: true, State: "recording", Oldest: u.Oldest,
			BytesStored: u.Bytes, TargetRetain: f.retention}
		if !u.Oldest.IsZero() {
			cs.AchievedRetain = now.Sub(u.Oldest)
		}
		st.Cameras = append(st.Cameras, cs)
	}
	sort.Slice(st.Cameras, func(i, j int) bool { return st.Cameras[i].Camera < st.Cameras[j].Camera })
	return st
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (w *world) indexPath() string { return filepath.Join(w.p.Dir, "index.db") }
