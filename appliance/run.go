package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"

	"mimamori/core"
	"mimamori/metrics"
	"mimamori/recorder"
	"mimamori/recorder/export"
	"mimamori/recorder/playback"
	"mimamori/sshd"
	"mimamori/tui"
)

// retention converts the policy's days into a duration.
func (a *Appliance) retention() time.Duration {
	return time.Duration(a.Store.Policy().RetentionDays * float64(24*time.Hour))
}

// Running is an appliance whose recorder and console are up.
type Running struct {
	rec     *recorder.Recorder
	ssh     *sshd.Server
	pb      *playback.Server
	stopRec context.CancelFunc
	recDone chan struct{}
	sshDone chan error
	metrics *metrics.Server // nil when metrics.listen is empty
}

// Start opens the ring, starts recording every configured camera and
// serves the console. Stop it with Stop after ctx is done.
func (a *Appliance) Start(ctx context.Context, log *slog.Logger) (*Running, error) {
	cfg := a.Config
	// A camera the register marks removed (001 §8-2) is not recorded,
	// even if the config still lists it.
	removed, err := a.Store.RemovedCameras()
	if err != nil {
		return nil, fmt.Errorf("camera register: %w", err)
	}
	var cams []recorder.Camera
	for _, c := range cfg.Cameras {
		if removed[c.ID] {
			log.Info("camera removed from the register; not recording it", "camera", c.ID)
			continue
		}
		cams = append(cams, recorder.Camera{ID: c.ID, URL: c.URL, Transport: c.Transport, StallTimeout: c.StallTimeout})
	}
	rec, err := recorder.New(recorder.Options{
		DataDir:   cfg.DataDir,
		Capacity:  cfg.Storage.Capacity,
		BlockSize: cfg.Storage.BlockSize,
		HoldShare: cfg.Storage.HoldShare,
		Retention: a.retention(),
		Cameras:   cams,
		Ledger:    a.Store,
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	a.Store.SetFootage(rec)
	a.Store.SetTrustedClock(rec.Ring()) // hold lapses and copies' expiry on ring time
	// Before anyone can export: packages a crash left unrecorded go, each
	// with a proof (a running export's file would look the same later).
	if n, err := a.Store.EraseUnrecordedPackages(core.SystemActor("custody"), cfg.ExportDir); err != nil {
		log.Error("export_dir: unrecorded packages", "err", err)
	} else if n > 0 {
		log.Warn("export_dir: unrecorded packages erased", "count", n)
	}
	exp := &export.Exporter{Source: rec.Ring(), Signer: a.HostKey, Logger: log,
		ApplianceID: cfg.ApplianceID, Version: Version}
	a.Store.SetExporter(exp)
	pb, err := playback.New(playback.Options{Footage: rec.Ring(), Live: rec.Live(), Core: a.Store, Logger: log,
		Listen: fmt.Sprintf("127.0.0.1:%d", cfg.SSH.PlaybackPort)})
	if err != nil {
		_ = rec.Close()
		return nil, fmt.Errorf("playback: %w", err)
	}
	so := sshd.Options{
		Listen:      cfg.SSH.Listen,
		DataDir:     cfg.DataDir,
		Core:        a.Store,
		IdleTimeout: cfg.SSH.IdleTimeout,
		MaxSessions: cfg.SSH.MaxSessions,
		ExportDir:   cfg.ExportDir,
		Logger:      log,
		Lang:        cfg.Lang,
		Location:    cfg.Location,
		NewProgram: sshd.TUIProgram(func(ts sshd.TUISession) tea.Model {
			sid := "console-" + ts.Session.Context().SessionID()[:12]
			return tui.New(tui.Common{
				Ctx: ts.Ctx, Renderer: ts.Renderer, Actor: ts.Actor, Core: a.Store,
				Lang: ts.Lang, Location: ts.Location, Width: ts.Width, Height: ts.Height,
				Logger: ts.Logger, Appliance: cfg.ApplianceID,
				ExportDir: cfg.ExportDir, SessionID: sid, Viewer: newConsoleViewer(pb, ts.Session, sid),
				ApplianceKey: a.HostFP,
				Command:      func(remote string) string { return sshd.CommandLine(ts.Session, remote) },
			})
		}),
	}
	sshd.EnableViewing(&so, pb)
	sshd.EnableFileTransfer(&so)
	srv, err := sshd.New(so)
	if err != nil {
		_ = pb.Close()
		_ = rec.Close()
		return nil, fmt.Errorf("ssh: %w", err)
	}
	ms, err := a.startMetrics(rec, srv, exp, log)
	if err != nil {
		_ = srv.Close()
		_ = pb.Close()
		_ = rec.Close()
		return nil, err
	}
	r := &Running{rec: rec, ssh: srv, pb: pb, metrics: ms, recDone: make(chan struct{}), sshDone: make(chan error, 1)}
	recCtx, stopRec := context.WithCancel(ctx)
	r.stopRec = stopRec
	go func() {
		defer close(r.recDone)
		swept := make(chan struct{})
		go func() { defer close(swept); sweepCopies(recCtx, a.Store, log) }()
		logged := make(chan struct{})
		go func() { defer close(logged); logCheckpoints(recCtx, a.Store, log, time.After) }()
		rec.Run(recCtx)
		<-swept
		<-logged
	}()
	go func() { r.sshDone <- srv.ListenAndServe() }()
	// Surface a listen error (port taken) at start rather than silently.
	select {
	case err := <-r.sshDone:
		r.stopMetrics(log)
		_ = pb.Close()
		stopRec()
		<-r.recDone
		_ = rec.Close()
		return nil, fmt.Errorf("ssh listen %s: %w", cfg.SSH.Listen, err)
	case <-time.After(200 * time.Millisecond):
	}
	return r, nil
}

// Stop ends the console (sessions get a moment to close), stops the
// recorder, waits for it to flush and closes the ring.
func (r *Running) Stop(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.stopMetrics(log)
	if err := r.ssh.Shutdown(ctx); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
		log.Warn("ssh shutdown", "err", err)
		_ = r.ssh.Close()
	}
	if err := r.pb.Close(); err != nil {
		log.Warn("closing playback", "err", err)
	}
	r.stopRec()
	<-r.recDone
	if err := r.rec.Close(); err != nil {
		log.Warn("closing the ring", "err", err)
	}
}

func (r *Running) stopMetrics(log *slog.Logger) {
	if r.metrics == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.metrics.Shutdown(ctx); err != nil {
		log.Warn("metrics shutdown", "component", "metrics", "err", err)
	}
}

// MetricsAddr is where /metrics is served (nil when metrics are off).
func (r *Running) MetricsAddr() net.Addr {
	if r.metrics == nil {
		return nil
	}
	return r.metrics.Addr()
}

// SSHAddr is where the console listens (useful with port 0).
func (r *Running) SSHAddr() net.Addr { return r.ssh.Addr() }

// Recorder is the running recorder, for tests and benchmarks.
func (r *Running) Recorder() *recorder.Recorder { return r.rec }
