package appliance

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mimamori/config"
	"mimamori/core"
)

func testConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.ExportDir = t.TempDir()
	cfg.SSH.Listen = "127.0.0.1:0"
	cfg.Storage.Capacity = 64 << 20
	cfg.Storage.BlockSize = 1 << 20
	cfg.Location = time.UTC
	cfg.Cameras = []config.Camera{{ID: "cam1", Number: 1, Name: "gate", URL: "rtsp://127.0.0.1:1/none"}}
	return cfg
}

// A console port that is already taken must fail the start with a clear
// error, and stop the recorder it had started rather than hang.
func TestStartFailsOnTakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t)
	cfg.SSH.Listen = taken.Addr().String()
	log := slog.New(slog.DiscardHandler)
	app, err := Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	done := make(chan error, 1)
	go func() {
		_, err := app.Start(context.Background(), log)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "ssh listen") {
			t.Fatalf("Start on a taken port: %v, want an ssh listen error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Start hung on a taken port")
	}
}

// Start and Stop leave the data dir reusable: a second start finds the
// same host key and the camera register unchanged.
func TestStartStopRestart(t *testing.T) {
	cfg := testConfig(t)
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	var fps []string
	for i := range 2 {
		app, err := Open(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		run, err := app.Start(ctx, log)
		if err != nil {
			t.Fatal(err)
		}
		if run.SSHAddr() == nil {
			t.Fatal("no SSH address")
		}
		cancel()
		run.Stop(log)
		// Each start logged the signed checkpoint (checkpoint_log.go).
		lines := logs.checkpointLines(t)
		if len(lines) != i+1 {
			t.Fatalf("start %d: %d checkpoint lines in the log, want one per start", i+1, len(lines))
		}
		if _, err := core.ParseCheckpoint([]byte(lines[i]["note"].(string)), app.HostKey.PublicKey()); err != nil {
			t.Fatalf("start %d: logged checkpoint: %v", i+1, err)
		}
		if err := app.Close(); err != nil {
			t.Fatal(err)
		}
		fps = append(fps, app.HostFP)
	}
	if fps[0] != fps[1] {
		t.Fatalf("host key changed across restarts: %s then %s", fps[0], fps[1])
	}
}

// A package file a crash left unrecorded in export_dir (an export cut
// short, or written but never recorded) is erased when the appliance
// starts, with a proof entry; other files stay.
func TestStartErasesUnrecordedPackages(t *testing.T) {
	cfg := testConfig(t)
	partial := filepath.Join(cfg.ExportDir, ".R-2026-0001-20260101T000000Z.mimamori.partial")
	other := filepath.Join(cfg.ExportDir, "readme.txt")
	for _, p := range []string{partial, other} {
		if err := os.WriteFile(p, []byte("footage"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	app, err := Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := app.Start(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	run.Stop(log)
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Fatalf("the unrecorded package survived the start: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
	es, err := app.Store.Ledger(core.Actor{Fingerprint: "SHA256:m", Name: "m", Role: core.RoleManager}, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		found = found || e.Action == core.ActionExportErase && e.Subject == "R-2026-0001" && e.Details["reason"] == core.EraseUnrecorded
	}
	if !found {
		t.Fatal("no erasure proof for the unrecorded package")
	}
}
