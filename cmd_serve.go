package main

import (
	"context"
	"io"
	"os/signal"
	"syscall"

	"mimamori/appliance"
	"mimamori/config"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("serve", "serve --config FILE", `
Run the appliance: record the configured cameras into the ring and serve
the console over SSH. Every configuration mistake is reported at start
with its key and line. Stops cleanly on SIGINT or SIGTERM.`)
	cfgPath := c.str("config", "", "FILE", "configuration file (YAML; see README.md)")
	level := c.str("log-level", "", "LEVEL", "debug, info, warn or error (overrides log.level of the config)")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if *cfgPath == "" {
		return c.usageError(stderr, "--config is required")
	}
	if len(pos) != 0 {
		return c.usageError(stderr, "unexpected argument %q", pos[0])
	}
	lv, err := config.ParseLogLevel(*level)
	if *level != "" && err != nil {
		return c.usageError(stderr, "--log-level: %v", err)
	}
	// A long-running appliance must not die because whoever read its
	// output went away (a closed pipe, a restarted log collector).
	signal.Ignore(syscall.SIGPIPE)
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return c.fail(stderr, err)
	}
	if *level != "" {
		cfg.Log.Level = lv
	}
	log := appliance.NewLogger(stderr, cfg.Log)
	app, err := appliance.Open(cfg, log)
	if err != nil {
		return c.fail(stderr, err)
	}
	defer app.Close()
	log.Info("mimamori started",
		"config", cfg.File, "data_dir", cfg.DataDir, "policy", cfg.Policy,
		"cameras", len(cfg.Cameras), "ssh_listen", cfg.SSH.Listen, "metrics_listen", cfg.Metrics.Listen,
		"log_level", cfg.Log.Level.String(), "host_key", app.HostFP)
	r, err := app.Start(ctx, log)
	if err != nil {
		return c.fail(stderr, err)
	}
	// The bound address: with port 0 in the config, this says which.
	log.Info("console listening", "addr", r.SSHAddr().String())
	<-ctx.Done()
	log.Info("mimamori stopping")
	r.Stop(log)
	return 0
}
