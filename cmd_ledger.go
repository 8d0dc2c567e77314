package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"mimamori/appliance"
	"mimamori/core"
	"mimamori/keys"
	"mimamori/recorder/export"
)

func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, rest, code, done := subcommand("ledger", map[string]string{
		"verify": "verify (--data DIR | --db FILE [--host-key PUBFILE]) [--checkpoint FILE ...] [--anchor SIZE:ROOT ...] [--key FINGERPRINT]",
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
	c := newCLI("ledger verify", "ledger verify (--data DIR | --db FILE [--host-key PUBFILE]) [--checkpoint FILE ...] [--anchor SIZE:ROOT ...] [--key FINGERPRINT]", `
Check the ledger offline: every entry in sequence, linked to the one
before it, matching its own hash, the Merkle tree rebuilt from the entries
matching every stored tree hash, and the last entry matching the recorded
head. Each --checkpoint FILE must be signed by the appliance's host key,
and the ledger must be an append-only extension of it: its first N
entries unchanged. FILE is a checkpoint kept from "ssh … ledger
checkpoint" (or its --json), or the manifest.json of an export package
("mimamori verify --extract" writes it), which carries the checkpoint of
its export. Each --anchor SIZE:ROOT is a checkpoint as printed on forms 2
and 3 and the handover receipt ("… 46 件 (entries), root 30f2d675e8509cd8"
is --anchor 46:30f2d675e8509cd8): unsigned, it is as good as the paper,
and the first SIZE entries' root must begin with ROOT. Without a
checkpoint the ledger can only be shown consistent with itself. Exits 0
if all holds; otherwise names the first broken entry or the first failing
checkpoint and exits 1. The database is opened read-only; stop the
appliance first (or use "ledger verify" in the console while it runs).
--db FILE checks that database file instead of DIR/mimamori.db, such as
a backup taken with "ssh … backup > mimamori.db", while the appliance
keeps recording. Checkpoints are checked with the host key in DIR, or
with --host-key PUBFILE: the appliance's public key, as a .pub or
authorized_keys line or as "ssh-keyscan -t ed25519 -p PORT HOST" prints
it — so an auditor needs neither the appliance's data directory nor its
private key. --key FINGERPRINT (from the handover receipt, or as you got
it separately) must then be that key's fingerprint.`)
	data := c.str("data", "", "DIR", "data directory (holds mimamori.db and ssh/host_ed25519)")
	cpFiles := c.strs("checkpoint", "FILE", "a signed checkpoint (or a package's manifest.json) to check the ledger against (repeatable)")
	anchors := c.strs("anchor", "SIZE:ROOT", "a checkpoint as printed on a form or receipt: size and root (repeatable)")
	wantFP := c.str("key", "", "FINGERPRINT", "the appliance key's fingerprint as you got it separately (SHA256:…)")
	dbFile := c.str("db", "", "FILE", "a database file instead of DIR/mimamori.db (e.g. a backup)")
	hostKey := c.str("host-key", "", "PUBFILE", "the appliance's public key (a .pub line or ssh-keyscan output), instead of the key in --data DIR")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if *data == "" && *dbFile == "" {
		return c.usageError(stderr, "--data or --db is required")
	}
	if *data == "" && *hostKey == "" && (len(*cpFiles) > 0 || *wantFP != "") { // anchors need no key
		return c.usageError(stderr, "--checkpoint and --key need the appliance's key: --host-key PUBFILE or --data DIR")
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
		var pk ssh.PublicKey
		var err error
		from := *hostKey
		if from != "" {
			pk, err = publicKeyFile(from)
		} else {
			from = *data
			pk, err = hostPublicKey(*data)
		}
		if err != nil {
			return c.fail(stderr, err)
		}
		if fp, want := ssh.FingerprintSHA256(pk), export.NormalizeFingerprint(*wantFP); *wantFP != "" && fp != want {
			return c.fail(stderr, fmt.Errorf("the host key in %s is %s, not %s: checkpoints cannot be trusted with it", from, fp, want))
		}
		o.HostKey = pk
	}
	for _, f := range *cpFiles {
		b, err := readBounded(f, 16<<20)
		if err == nil {
			b, err = checkpointText(b)
		}
		if err != nil {
			return c.fail(stderr, fmt.Errorf("checkpoint %s: %w", f, err))
		}
		o.Checkpoints = append(o.Checkpoints, core.NamedCheckpoint{Name: f, Text: b})
	}
	for _, a := range *anchors {
		an, err := core.ParseAnchor(a)
		if err != nil {
			return c.usageError(stderr, "%v", err)
		}
		o.Anchors = append(o.Anchors, an)
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
	label := func(name string) string {
		if strings.HasPrefix(name, "anchor ") {
			return name
		}
		return "checkpoint " + name
	}
	for _, cp := range rep.Checkpoints {
		if cp.OK {
			fmt.Fprintf(stdout, "%s: %d entries, consistent\n", label(cp.Name), cp.Size)
		}
	}
	if f := rep.FirstFailed(); f != nil {
		fmt.Fprintf(stdout, "%s FAILS (the first of %d that does): %s\n", label(f.Name), len(rep.Checkpoints), f.Problem)
		return 1
	}
	if !chainOK {
		return 1
	}
	switch {
	case len(rep.Checkpoints) == 0:
		fmt.Fprintf(stdout, "ledger intact: %d entries (consistent with no outside checkpoint: a ledger rewritten as a whole would pass too; keep checkpoints)\n", rep.Entries)
	case len(o.Anchors) > 0:
		fmt.Fprintf(stdout, "ledger intact: %d entries, an append-only extension of all %d checkpoints and printed anchors\n", rep.Entries, len(rep.Checkpoints))
	default:
		fmt.Fprintf(stdout, "ledger intact: %d entries, an append-only extension of all %d checkpoints\n", rep.Entries, len(rep.Checkpoints))
	}
	fmt.Fprintf(stdout, "tree root %s\n", rep.Root)
	return 0
}

// checkpointText is the signed checkpoint in a file: the note itself, or
// the one inside JSON — "ledger checkpoint --json" ("note") or an export
// package's manifest.json ("ledger": {"checkpoint"}). Its signature is
// what counts, so where it came from does not matter.
func checkpointText(b []byte) ([]byte, error) {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return b, nil
	}
	var j struct {
		Note   string `json:"note"`
		Ledger *struct {
			Checkpoint string `json:"checkpoint"`
		} `json:"ledger"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("not a checkpoint, nor JSON holding one: %w", err)
	}
	switch {
	case j.Note != "":
		return []byte(j.Note), nil
	case j.Ledger != nil && j.Ledger.Checkpoint != "":
		return []byte(j.Ledger.Checkpoint), nil
	}
	return nil, errors.New("JSON without a checkpoint (neither \"note\" nor \"ledger\": {\"checkpoint\"})")
}

// publicKeyFile reads the appliance's ed25519 public key from a file: an
// authorized_keys or .pub line, or known_hosts / ssh-keyscan lines.
func publicKeyFile(path string) (ssh.PublicKey, error) {
	b, err := readBounded(path, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	var found ssh.PublicKey
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			if _, _, pk, _, _, err = ssh.ParseKnownHosts([]byte(line)); err != nil {
				continue
			}
		}
		if pk.Type() != ssh.KeyAlgoED25519 {
			continue
		}
		if found != nil && !bytes.Equal(found.Marshal(), pk.Marshal()) {
			return nil, fmt.Errorf("host key %s: more than one ed25519 key; give the appliance's alone", path)
		}
		found = pk
	}
	if found == nil {
		return nil, fmt.Errorf("host key %s: no ssh-ed25519 public key in it", path)
	}
	return found, nil
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
