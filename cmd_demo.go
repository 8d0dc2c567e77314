package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"mimamori/appliance"
	"mimamori/config"
	"mimamori/core"
	"mimamori/keys"
	"mimamori/simcam"
)

// demoCameras are the simulated cameras' register entries: a small
// shopping street, as a city or a shopkeepers' association would have.
var demoCameras = []struct{ name, location, direction string }{
	{"駅前広場", "四街道駅北口 駅前広場", "北向き・広場全体"},
	{"商店街東口", "中央商店街 東口アーチ", "西向き・歩道と車道"},
	{"市民駐輪場", "第2市民駐輪場 出入口", "南向き・出入口付近"},
	{"公園入口", "中央公園 正面入口", "東向き・園路"},
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("demo", "demo [--data DIR] [--listen ADDR] [--rtsp ADDR]", `
Start four simulated cameras, the appliance recording them and demo keys
for a manager, an operator and a technician, then print the ssh command
to log in as each. Runs in the foreground until Ctrl-C. The data dir is
kept, so a second run finds the first run's recordings and ledger.`)
	dataDir := c.str("data", "demo-data", "DIR", "demo data directory (created if missing)")
	listen := c.str("listen", "127.0.0.1:2222", "ADDR", "SSH console address")
	rtsp := c.str("rtsp", "127.0.0.1:8554", "ADDR", "address of the simulated cameras")
	capacity := c.str("capacity", "2GiB", "SIZE", "ring size")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if len(pos) != 0 {
		return c.usageError(stderr, "unexpected argument %q", pos[0])
	}
	// A long-running appliance must not die because whoever read its
	// output went away (a closed pipe, a restarted log collector).
	signal.Ignore(syscall.SIGPIPE)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return c.fail(stderr, err)
	}

	cams, err := simcam.New(simcam.Options{Listen: *rtsp, Cameras: len(demoCameras), Codec: "h264", Bitrate: 2_000_000, Logger: log})
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := cams.Start(); err != nil {
		return c.fail(stderr, fmt.Errorf("simulated cameras on %s: %w", *rtsp, err))
	}
	defer cams.Close()

	cfgPath := filepath.Join(dir, "mimamori.yaml")
	if err := writeDemoConfig(cfgPath, dir, *listen, *capacity, cams); err != nil {
		return c.fail(stderr, err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return c.fail(stderr, err)
	}
	app, err := appliance.Open(cfg, log)
	if err != nil {
		return c.fail(stderr, err)
	}
	defer app.Close()
	logins, err := demoKeys(app.Store, dir)
	if err != nil {
		return c.fail(stderr, err)
	}
	r, err := app.Start(ctx, log)
	if err != nil {
		return c.fail(stderr, err)
	}

	host, port, _ := splitHostPort(*listen)
	fmt.Fprintf(stdout, "mimamori demo: %d simulated cameras at rtsp://%s/cam1..cam%d, recording into %s\n",
		len(demoCameras), *rtsp, len(demoCameras), dir)
	fmt.Fprintf(stdout, "SSH host key %s\n\nLog in as:\n", app.HostFP)
	for _, l := range logins {
		// Roles that may view get the playback forward in their login, so
		// viewing links from the console work in the same session.
		fwd := ""
		if l.role != core.RoleTechnician.String() {
			fwd = fmt.Sprintf("-L %d:127.0.0.1:%d ", cfg.SSH.PlaybackPort, cfg.SSH.PlaybackPort)
		}
		fmt.Fprintf(stdout, "  %-10s ssh -i %s -p %s %s-o UserKnownHostsFile=%s -o StrictHostKeyChecking=accept-new %s\n",
			l.role, l.keyPath, port, fwd, filepath.Join(dir, "known_hosts"), host)
	}
	fmt.Fprintf(stdout, "\nAdd a command for scripts, e.g.\n  ssh -i %s -p %s -o UserKnownHostsFile=%s %s health --json\nCtrl-C stops the demo.\n",
		logins[len(logins)-1].keyPath, port, filepath.Join(dir, "known_hosts"), host)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nmimamori demo: stopping")
	r.Stop(log)
	return 0
}

type demoLogin struct{ role, keyPath string }

// demoKeys makes (or reuses) one key per staff role and enrols it.
func demoKeys(st *core.Store, dir string) ([]demoLogin, error) {
	people := []struct {
		role core.Role
		name string
	}{
		{core.RoleManager, "管理 花子"},
		{core.RoleOperator, "担当 太郎"},
		{core.RoleTechnician, "保守 次郎"},
	}
	var out []demoLogin
	for _, p := range people {
		path := filepath.Join(dir, "keys", p.role.String())
		line, _, err := keys.LoadOrGenerateUserKey(path)
		if err != nil {
			return nil, err
		}
		pk, _, err := keys.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, err
		}
		if _, err := st.LookupKey(keys.Fingerprint(pk)); errors.Is(err, core.ErrNotFound) {
			if _, err := st.EnrollKey(core.SystemActor("demo"), p.name, p.role, line); err != nil {
				return nil, fmt.Errorf("enrol demo %s key: %w", p.role, err)
			}
		} else if err != nil {
			return nil, err
		}
		out = append(out, demoLogin{role: p.role.String(), keyPath: path})
	}
	return out, nil
}

func writeDemoConfig(path, dir, listen, capacity string, cams *simcam.Server) error {
	y := fmt.Sprintf(`# Written by 'mimamori demo' on every start; a template for your own.
data_dir: %q
ssh:
  listen: %q
storage:
  capacity: %s
  block_size: 4MiB
policy: city
lang: ja
timezone: Asia/Tokyo
appliance_id: mimamori-demo
cameras:
`, dir, listen, capacity)
	for i, c := range demoCameras {
		y += fmt.Sprintf("  - id: cam%d\n    number: %d\n    name: %q\n    location: %q\n    direction: %q\n    url: %q\n    sign_posted: true\n",
			i+1, i+1, c.name, c.location, c.direction, cams.URL(i+1))
	}
	return os.WriteFile(path, []byte(y), 0o600)
}
