// Command mimamori is a security-camera appliance: it records IP cameras
// into an overwrite ring and runs the paperwork Japanese camera
// regulations demand as an SSH console. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand; run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "simulated cameras + appliance + demo keys; prints the ssh commands", runDemo},
		{"serve", "run the appliance from a config file", runServe},
		{"simcam", "serve synthetic RTSP cameras rtsp://ADDR/cam1..camN", runSimcam},
		{"verify", "check an export package; exit 0 only if intact and signed by the appliance key", runVerify},
		{"ledger", "ledger verify: check the ledger offline, against kept checkpoints and printed anchors", runLedger},
		{"keys", "keys add|list|revoke: enrol, list or revoke SSH keys offline", runKeys},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand. Exit codes: 0 ok, 1 failure (or a check
// that found a problem), 2 usage error or not available.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "mimamori: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `mimamori — security-camera appliance (recording + regulation paperwork over SSH)

Usage:
  mimamori demo
  mimamori serve --config FILE [--log-level debug|info|warn|error]
  mimamori simcam --listen ADDR --cameras N [--codec h264|h265] [--bitrate 4M]
  mimamori verify PATH --identity FILE --key FINGERPRINT [--package-sha256 HEX] [--extract DIR]
  mimamori ledger verify (--data DIR | --db FILE [--host-key PUBFILE]) [--checkpoint FILE ...] [--anchor SIZE:ROOT ...] [--key FINGERPRINT]
  mimamori keys add --data DIR --role ROLE --name NAME PUBKEY_FILE
  mimamori keys list --data DIR
  mimamori keys revoke --data DIR [--reason R] FINGERPRINT

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'mimamori COMMAND --help' for the flags of a command.\n")
}
