package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"mimamori/appliance"
	"mimamori/core"
)

func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, rest, code, done := subcommand("ledger", map[string]string{
		"verify": "verify --data DIR",
	}, args, stdout, stderr)
	if done {
		return code
	}
	switch sub {
	case "verify":
		return runLedgerVerify(ctx, rest, stdout, stderr)
	}
	return 2
}

func runLedgerVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("ledger verify", "ledger verify --data DIR", `
Check the ledger's hash chain offline: every entry in sequence, linked to
the one before it, matching its own hash, and the last one matching the
recorded head. Prints "ledger intact: N entries" and exits 0, or names the
first broken entry and exits 1. The database is opened read-only; stop the
appliance first (or use "ledger verify" in the console while it runs).`)
	data := c.str("data", "", "DIR", "data directory (holds mimamori.db)")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if *data == "" {
		return c.usageError(stderr, "--data is required")
	}
	if len(pos) != 0 {
		return c.usageError(stderr, "unexpected argument %q", pos[0])
	}
	path := appliance.DBPath(*data)
	if _, err := os.Stat(path); err != nil {
		return c.fail(stderr, fmt.Errorf("no database in %s: %w", *data, err))
	}
	rep, err := core.VerifyLedgerFile(path)
	if err != nil {
		// core's message may already say "ledger verify:".
		fmt.Fprintf(stderr, "mimamori ledger verify: %s\n", strings.TrimPrefix(err.Error(), "ledger verify: "))
		return 1
	}
	if !rep.OK {
		fmt.Fprintf(stdout, "ledger BROKEN at seq %d: %s\n", rep.BrokenSeq, rep.Problem)
		fmt.Fprintf(stdout, "%d entries before it are intact\n", rep.Entries)
		return 1
	}
	fmt.Fprintf(stdout, "ledger intact: %d entries\n", rep.Entries)
	return 0
}
