package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"mimamori/core"
)

// maxSecretLine bounds what is read from stdin for a passphrase; core
// refuses anything over 1024 bytes anyway.
const maxSecretLine = 4096

var errNoSecret = errors.New("no passphrase on stdin (send it as the first line)")

// readSecret reads the first line of stdin (without its line ending). It
// never echoes or logs it. The caller wipes the returned slice.
func readSecret(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, errNoSecret
	}
	br := bufio.NewReaderSize(io.LimitReader(r, maxSecretLine+1), 512)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxSecretLine {
			wipe(line)
			return nil, core.Invalid("passphrase", "longer than 1024 bytes")
		}
		if err == nil || errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		wipe(line)
		return nil, fmt.Errorf("reading the passphrase from stdin: %w", err)
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(line) == 0 {
		return nil, errNoSecret
	}
	return line, nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// export-passphrase set: the manager's new export passphrase, first line
// of stdin, stored by core only as a slow hash (000 §7-4(4)): the
// manager's lock on exporting. export-passphrase clear removes it.
func runExportPassphrase(env *Env, args []string) int {
	if len(args) > 0 && args[0] == "clear" {
		if pos, err := NewFlags().Parse(args[1:]); err != nil || len(pos) > 0 {
			return env.UsageError("export-passphrase", errText(err, pos))
		}
		if err := env.Core.ClearExportPassphrase(env.Actor); err != nil {
			return fail(env, core.ActionExportPassphrase, err)
		}
		fmt.Fprintln(env.Stdout, env.T("export passphrase cleared: exports need no passphrase",
			"書出しパスワードを解除しました（書出しにパスワード不要）"))
		return ExitOK
	}
	if len(args) == 0 || args[0] != "set" {
		return env.UsageError("export-passphrase", "missing subcommand: set or clear")
	}
	f := NewFlags()
	if pos, err := f.Parse(args[1:]); err != nil || len(pos) > 0 {
		return env.UsageError("export-passphrase", errText(err, pos))
	}
	// Check the role before reading stdin, so a forbidden caller is not
	// left waiting for input (core checks again and ledgers the refusal).
	if !core.Allowed(env.Actor.Role, core.ActionExportPassphrase) {
		return fail(env, core.ActionExportPassphrase, env.Core.SetExportPassphrase(env.Actor, nil))
	}
	pass, err := readSecret(env.Stdin)
	if err != nil {
		return fail(env, core.ActionExportPassphrase, err)
	}
	defer wipe(pass)
	if err := env.Core.SetExportPassphrase(env.Actor, pass); err != nil {
		return fail(env, core.ActionExportPassphrase, err)
	}
	fmt.Fprintln(env.Stdout, env.T("export passphrase set", "書出しパスワードを設定しました"))
	return ExitOK
}
