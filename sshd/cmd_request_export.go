package sshd

import (
	"context"
	"fmt"

	"mimamori/core"
)

// progressPrinter writes a line to stderr at each further 10% (and at the
// end), so a long export shows it is alive without flooding the session.
func progressPrinter(env *Env, id string) func(done, total int64) {
	last := int64(-10)
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := done * 100 / total
		if pct/10 == last/10 && done != total {
			return
		}
		if done == total && last == 100 {
			return
		}
		last = pct
		fmt.Fprintf(env.Stderr, "%s %s: %d%% (%s / %s)\n", env.T("exporting", "書出し中"), clean(id), pct,
			humanBytes(done), humanBytes(total))
	}
}

// request export ID: the operator (or manager) writes the package of an
// approved request under export_dir, encrypted to the key the manager
// chose at approval. If the manager has set an export passphrase (the
// manager's lock), it comes on stdin (first line); core checks it
// against its slow hash.
func runRequestExport(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := oneID(env, f, "export", args)
	if !ok {
		return ExitUsage
	}
	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if !core.Allowed(env.Actor.Role, core.ActionRequestExport) {
		// Core refuses (and ledgers the refusal) before looking at the
		// passphrase, so do not wait on stdin for one.
		_, err := env.Core.ExportRequest(ctx, env.Actor, id, nil, env.ExportDir, nil)
		return fail(env, core.ActionRequestExport, err)
	}
	if env.ExportDir == "" {
		return fail(env, core.ActionRequestExport, fmt.Errorf("%w: no export_dir is configured", core.ErrUnavailable))
	}
	// The export passphrase is the manager's lock on exporting; stdin is
	// read only while one is set (it encrypts nothing).
	var pass []byte
	if env.Core.HasExportPassphrase() {
		var err error
		if pass, err = readSecret(env.Stdin); err != nil {
			return fail(env, core.ActionRequestExport, err)
		}
		defer wipe(pass)
	}
	r, err := env.Core.ExportRequest(ctx, env.Actor, id, pass, env.ExportDir, progressPrinter(env, id))
	if err != nil {
		return fail(env, core.ActionRequestExport, err)
	}
	if r.Export == nil {
		return fail(env, core.ActionRequestExport, fmt.Errorf("export of %s recorded no package", id))
	}
	if *asJSON {
		return env.JSON(toExportJSON(*r.Export))
	}
	fmt.Fprintln(env.Stdout, r.Export.Path)
	return ExitOK
}
