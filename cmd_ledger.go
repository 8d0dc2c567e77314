package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"mimamori/appliance"
	"mimamori/core"
	"mimamori/keys"
)

func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, rest, code, done := subcommand("ledger", map[string]string{
		"verify": "verify --data DIR [--checkpoint FILE ...] [--key FINGERPRINT] | verify --db FILE",
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
	c := newCLI("ledger verify", "ledger verify --data DIR [--checkpoint FILE ...] [--key FINGERPRINT] | --db FILE", `
Check the ledger offline: every entry in sequence, linked to the one
before it, matching its own hash, the Merkle tree rebuilt from the entries
matching every stored tree hash, and the last entry matching the recorded
head. Each --checkpoint FILE (a signed checkpoint kept from "ssh … ledger
checkpoint") must be signed by the appliance's host key, and the ledger
must be an append-only extension of it: its first N entries unchanged.
Without a checkpoint the ledger can only be shown consistent with itself.
Exits 0 if all holds; otherwise names the first broken entry or the first
failing checkpoint and exits 1. The database is opened read-only; stop
the appliance first (or use "ledger verify" in the console while it runs).
--db FILE checks that database file instead of DIR/mimamori.db, such as
a backup taken with "ssh … backup > mimamori.db"; checking it against
checkpoints also needs --data DIR, for the appliance's host key.`)
	data := c.str("data", "", "DIR", "data directory (holds mimamori.db and ssh/host_ed25519)")
	cpFiles := c.strs("checkpoint", "FILE", "a signed checkpoint to check the ledger against (repeatable)")
	wantFP := c.str("key", "", "FINGERPRINT", "the appliance key's fingerprint as you got it separately (SHA256:…)")
	dbFile := c.str("db", "", "FILE", "a database file instead of DIR/mimamori.db (e.g. a backup)")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if *data == "" && *dbFile == "" {
		return c.usageError(stderr, "--data or --db is required")
	}
	if *data == "" && (len(*cpFiles) > 0 || *wantFP != "") {
		return c.usageError(stderr, "--checkpoint and --key need --data DIR (the appliance's host key)")
	}
	if len(pos) != 0 {
		return c.usageError(stderr, "unexpected argument %q", pos[0])
	}
	path := *dbFile
	if path == "" {
		path = appliance.DBPath(*data)
		if _, err := os.Stat(path); err != nil {
			return c.fail(stderr, fmt.Errorf("no database in %s: %w", *data, err))
		}
	}
	var o core.VerifyOptions
	if len(*cpFiles) > 0 || *wantFP != "" {
		pk, err := hostPublicKey(*data)
		if err != nil {
			return c.fail(stderr, err)
		}
		if fp := ssh.FingerprintSHA256(pk); *wantFP != "" && fp != *wantFP {
			return c.fail(stderr, fmt.Errorf("the host key in %s is %s, not %s: checkpoints cannot be trusted with it", *data, fp, *wantFP))
		}
		o.HostKey = pk
	}
	for _, f := range *cpFiles {
		b, err := readBounded(f, 64<<10)
		if err != nil {
			return c.fail(stderr, fmt.Errorf("checkpoint %s: %w", f, err))
		}
		o.Checkpoints = append(o.Checkpoints, core.NamedCheckpoint{Name: f, Text: b})
	}
	rep, err := core.VerifyLedgerFile(path, o)
	if err != nil {
		// core's message may already say "ledger verify:".
		fmt.Fprintf(stderr, "mimamori ledger verify: %s\n", strings.TrimPrefix(err.Error(), "ledger verify: "))
		return 1
	}
	chainOK := rep.BrokenSeq == 0 && rep.Problem == ""
	if !chainOK {
		fmt.Fprintf(stdout, "ledger BROKEN at seq %d: %s\n", rep.BrokenSeq, rep.Problem)
		fmt.Fprintf(stdout, "%d entries before it are intact\n", rep.Entries)
	}
	for _, cp := range rep.Checkpoints {
		if cp.OK {
			fmt.Fprintf(stdout, "checkpoint %s: %d entries, consistent\n", cp.Name, cp.Size)
		}
	}
	if f := rep.FirstFailed(); f != nil {
		fmt.Fprintf(stdout, "checkpoint %s FAILS (the first of %d that does): %s\n", f.Name, len(rep.Checkpoints), f.Problem)
		return 1
	}
	if !chainOK {
		return 1
	}
	switch {
	case len(rep.Checkpoints) == 0:
		fmt.Fprintf(stdout, "ledger intact: %d entries (consistent with no outside checkpoint: a ledger rewritten as a whole would pass too; keep checkpoints)\n", rep.Entries)
	default:
		fmt.Fprintf(stdout, "ledger intact: %d entries, an append-only extension of all %d checkpoints\n", rep.Entries, len(rep.Checkpoints))
	}
	fmt.Fprintf(stdout, "tree root %s\n", rep.Root)
	return 0
}

// hostPublicKey reads the appliance's host key from its data directory.
func hostPublicKey(data string) (ssh.PublicKey, error) {
	path := keys.HostKeyPath(data)
	b, err := readBounded(path, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return s.PublicKey(), nil
}

// readBounded reads a small file, refusing one larger than max.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}
