package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"mimamori/appliance"
	"mimamori/core"
	"mimamori/keys"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, rest, code, done := subcommand("keys", map[string]string{
		"add":    "add --data DIR --role ROLE --name NAME PUBKEY_FILE",
		"list":   "list --data DIR",
		"revoke": "revoke --data DIR [--reason R] FINGERPRINT",
	}, args, stdout, stderr)
	if done {
		return code
	}
	switch sub {
	case "add":
		return runKeysAdd(ctx, rest, stdout, stderr)
	case "list":
		return runKeysList(ctx, rest, stdout, stderr)
	case "revoke":
		return runKeysRevoke(ctx, rest, stdout, stderr)
	}
	return 2
}

// openOffline opens the database for an offline command; the appliance
// must be stopped (bbolt holds the file exclusively).
func openOffline(data string) (*core.Store, error) {
	path := appliance.DBPath(data)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database in %s: %w", data, err)
	}
	st, err := core.Open(path, core.Options{})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is in use: stop the appliance first, or use the console", path)
	}
	return st, err
}

func runKeysList(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("keys list", "keys list --data DIR", `
List every enrolled key offline (appliance stopped): fingerprint, role,
name, key type, state (active, revoked, expired) and when it was enrolled.
A key enrolled by an older release that the algorithm policy now refuses
is marked with the reason it cannot log in. Use it with "keys revoke" when
the console is unreachable (e.g. a key is locking others out).`)
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
	st, err := openOffline(*data)
	if err != nil {
		return c.fail(stderr, err)
	}
	defer st.Close()
	ks, err := st.Keys(core.SystemActor("keys-list"))
	if err != nil {
		return c.fail(stderr, err)
	}
	now := time.Now()
	for _, k := range ks {
		state := "active"
		switch {
		case !k.RevokedAt.IsZero():
			state = "revoked"
		case !k.Active(now):
			state = "expired"
		}
		note := ""
		if pk, _, perr := keys.ParseAuthorizedKey([]byte(k.PublicKey)); perr != nil {
			note = "  (stored key unreadable)"
		} else if perr := keys.CheckKey(pk); perr != nil {
			note = "  (cannot log in: " + perr.Error() + ")"
		}
		fmt.Fprintf(stdout, "%s  %-10s  %-8s  %s  %s  %s%s\n", k.Fingerprint, k.Role, state,
			k.EnrolledAt.UTC().Format(time.RFC3339), core.CleanLine(k.Type, 40), core.CleanLine(k.Name, 0), note)
	}
	return 0
}

func runKeysRevoke(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("keys revoke", "keys revoke --data DIR [--reason R] FINGERPRINT", `
Revoke an enrolled key offline (appliance stopped), for when the console
is unreachable. FINGERPRINT is as "keys list" prints it (SHA256:…). The
revocation is written to the ledger as done by "system:keys-revoke". The
last active manager key cannot be revoked: enrol a new manager with
"keys add" first.`)
	data := c.str("data", "", "DIR", "data directory (holds mimamori.db)")
	reason := c.str("reason", "revoked offline (keys revoke)", "R", "why, for the ledger")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	switch {
	case *data == "":
		return c.usageError(stderr, "--data is required")
	case len(pos) != 1:
		return c.usageError(stderr, "exactly one FINGERPRINT is required, got %d", len(pos))
	}
	st, err := openOffline(*data)
	if err != nil {
		return c.fail(stderr, err)
	}
	k, err := st.LookupKey(pos[0])
	if err == nil {
		err = st.RevokeKey(core.SystemActor("keys-revoke"), pos[0], *reason)
	}
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	fmt.Fprintf(stdout, "revoked %s (%s, %s)\n", k.Fingerprint, core.CleanLine(k.Name, 0), k.Role)
	return 0
}

func runKeysAdd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("keys add", "keys add --data DIR --role ROLE --name NAME PUBKEY_FILE", `
Enrol an SSH public key offline, e.g. the first manager before the
appliance has ever run. PUBKEY_FILE holds one authorized_keys line (such
as ~/.ssh/id_ed25519.pub); "-" reads it from standard input. ROLE is
manager, operator or technician (viewers are granted from the console).
The enrolment is written to the ledger as done by "system:keys-add".
The appliance must be stopped: the database is opened exclusively.`)
	data := c.str("data", "", "DIR", "data directory (holds mimamori.db)")
	roleName := c.str("role", "", "ROLE", "manager, operator or technician")
	name := c.str("name", "", "NAME", "the person's name, as it appears in the ledger")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	switch {
	case *data == "":
		return c.usageError(stderr, "--data is required")
	case *roleName == "":
		return c.usageError(stderr, "--role is required")
	case *name == "":
		return c.usageError(stderr, "--name is required")
	case len(pos) != 1:
		return c.usageError(stderr, "exactly one PUBKEY_FILE is required, got %d", len(pos))
	}
	role, err := core.ParseRole(*roleName)
	if err != nil {
		return c.usageError(stderr, "%v", err)
	}
	line, err := readPublicKey(pos[0])
	if err != nil {
		return c.fail(stderr, err)
	}
	pk, _, err := keys.ParseAuthorizedKey(line)
	if err != nil {
		return c.fail(stderr, fmt.Errorf("%s: %w", pos[0], err))
	}
	if err := os.MkdirAll(*data, 0o750); err != nil {
		return c.fail(stderr, err)
	}
	st, err := core.Open(appliance.DBPath(*data), core.Options{})
	if errors.Is(err, berrors.ErrTimeout) {
		return c.fail(stderr, fmt.Errorf("%s is in use: stop the appliance first, or enrol from the console", appliance.DBPath(*data)))
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	k, err := st.EnrollKey(core.SystemActor("keys-add"), *name, role, string(line))
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	fmt.Fprintf(stdout, "enrolled %s as %s: %s %s\n", k.Name, k.Role, pk.Type(), k.Fingerprint)
	return 0
}

// readPublicKey returns the single key line of an authorized_keys-style
// file, skipping blank lines and comments.
func readPublicKey(path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var found []byte
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := bytes.TrimSpace(sc.Bytes())
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%s: holds more than one key; enrol them one at a time", path)
		}
		found = append([]byte(nil), l...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if found == nil {
		return nil, errors.New(path + ": no public key in it")
	}
	return found, nil
}
