package sshd

import (
	"context"
	"fmt"
	"strings"

	"mimamori/core"
)

// exporter is core's export entry point, (*core.Store).ExportRequest.
// Asserted rather than called directly while core/export.go lands.
type exporterRecord interface {
	ExportRequest(ctx context.Context, actor core.Actor, id string, passphrase []byte, dir string,
		progress func(done, total int64)) (core.ExportRecord, error)
}

type exporterRequest interface {
	ExportRequest(ctx context.Context, actor core.Actor, id string, passphrase []byte, dir string,
		progress func(done, total int64)) (core.Request, error)
}

func exportRequest(ctx context.Context, st *core.Store, a core.Actor, id string, pass []byte, dir string,
	progress func(done, total int64)) (core.ExportRecord, error) {
	switch x := any(st).(type) {
	case exporterRecord:
		return x.ExportRequest(ctx, a, id, pass, dir, progress)
	case exporterRequest:
		r, err := x.ExportRequest(ctx, a, id, pass, dir, progress)
		if err != nil {
			return core.ExportRecord{}, err
		}
		if r.Export == nil {
			return core.ExportRecord{}, fmt.Errorf("export of %s recorded no package", id)
		}
		return *r.Export, nil
	}
	return core.ExportRecord{}, fmt.Errorf("%w: the export engine is not built into this appliance", core.ErrUnavailable)
}

// progressPrinter writes a line to stderr at each further 10% (and at the
// end), so a long export shows it is alive without flooding the session.
func progressPrinter(env *Env, id string) func(done, total int64) {
	last := int64(-1)
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
// approved request under export_dir. The manager-held export passphrase
// comes on stdin (first line); core checks it against its slow hash.
func runRequestExport(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := oneID(env, f, "export", args)
	if !ok {
		return ExitUsage
	}
	if !core.Allowed(env.Actor.Role, core.ActionRequestExport) {
		// Let core refuse (and ledger the refusal) before waiting on stdin.
		_, err := exportRequest(env.Ctx, env.Core, env.Actor, id, nil, env.ExportDir, nil)
		if err == nil || strings.Contains(err.Error(), "not built") {
			err = fmt.Errorf("%w", core.ErrForbidden)
		}
		return fail(env, core.ActionRequestExport, err)
	}
	if env.ExportDir == "" {
		return fail(env, core.ActionRequestExport, fmt.Errorf("%w: no export_dir is configured", core.ErrUnavailable))
	}
	pass, err := readSecret(env.Stdin)
	if err != nil {
		return fail(env, core.ActionRequestExport, err)
	}
	defer wipe(pass)
	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	rec, err := exportRequest(ctx, env.Core, env.Actor, id, pass, env.ExportDir, progressPrinter(env, id))
	if err != nil {
		return fail(env, core.ActionRequestExport, err)
	}
	if *asJSON {
		return env.JSON(toExportJSON(rec))
	}
	fmt.Fprintln(env.Stdout, rec.Path)
	return ExitOK
}
