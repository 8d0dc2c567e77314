package appliance

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"mimamori/config"
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
	log := slog.New(slog.DiscardHandler)
	var fps []string
	for range 2 {
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
		if err := app.Close(); err != nil {
			t.Fatal(err)
		}
		fps = append(fps, app.HostFP)
	}
	if fps[0] != fps[1] {
		t.Fatalf("host key changed across restarts: %s then %s", fps[0], fps[1])
	}
}
