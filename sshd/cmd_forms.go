package sshd

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"mimamori/core"
	"mimamori/forms"
)

// Printable forms (000 forms 1-3; the company template's equivalents) and
// the ledger as CSV, for scripts:
//
//	ssh host form 1 [CAMERA...] > signs.html      (the sign of each camera in place)
//	ssh host form 2 R-2026-0001 > form2.html      (also: request form2 ID)
//	ssh host form 3 R-2026-0001 > form3.html      (also: request form3 ID)
//	ssh host ledger --csv > ledger.csv            (also: ledger export --csv)

const formUsage = "1 [CAMERA...] | 2|3 ID | receipt ID [--json]   (HTML on stdout: form 1 設置標識, form 2 利用申請書, form 3 検索簿, handover receipt 受領書)"

func runForm(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	pos, err := f.Parse(args)
	if err != nil {
		return env.UsageError("form", err.Error())
	}
	if len(pos) >= 1 && (pos[0] == "1" || pos[0] == "form1") {
		return printSigns(env, pos[1:], *asJSON)
	}
	if len(pos) == 2 && pos[0] == "receipt" {
		return printReceipt(env, pos[1], *asJSON)
	}
	if len(pos) != 2 {
		return env.UsageError("form", "form: give the form number (2 or 3) and a request ID, or 1 and cameras")
	}
	var n int
	switch pos[0] {
	case "2", "form2":
		n = 2
	case "3", "form3":
		n = 3
	default:
		return env.UsageError("form", fmt.Sprintf("form: %q is not a form number (1: 設置標識, 2: 利用申請書, 3: 検索簿)", pos[0]))
	}
	return printForm(env, n, pos[1], *asJSON)
}

// runRequestForm serves "request form2 ID" and "request form3 ID".
func runRequestForm(env *Env, n int, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := oneID(env, f, fmt.Sprintf("form%d", n), args)
	if !ok {
		return ExitUsage
	}
	return printForm(env, n, id, *asJSON)
}

type formJSON struct {
	Request string `json:"request"`
	Form    int    `json:"form"`
	Title   string `json:"title"`
	HTML    string `json:"html"`
}

func printForm(env *Env, n int, id string, asJSON bool) int {
	d, err := formDocument(env, id, n)
	if err != nil {
		return fail(env, core.ActionFormIssue, err)
	}
	// Render fully before writing, so a failure never leaves half a form
	// in the caller's file.
	var b bytes.Buffer
	if err := forms.Render(&b, n, d); err != nil {
		return env.Fail(core.ActionRequestsRead, err)
	}
	if asJSON {
		p := env.Core.Policy()
		title := map[int]string{2: p.FormTitle(p.Forms.Application), 3: p.FormTitle(p.Forms.SearchBook)}[n]
		return env.JSON(formJSON{Request: d.Request.ID, Form: n, Title: title, HTML: b.String()})
	}
	if _, err := env.Stdout.Write(b.Bytes()); err != nil {
		return env.Fail("", err)
	}
	return ExitOK
}

// formDocument gathers what a form shows: the request (its first issue
// date recorded by core), the register's entries for its cameras, and
// the policy profile (citations, terms, issuer).
func formDocument(env *Env, id string, n int) (forms.Document, error) {
	r, err := env.Core.IssueForm(env.Actor, id, n)
	if err != nil {
		return forms.Document{}, err
	}
	cams, err := env.Core.Cameras(env.Actor)
	if err != nil {
		return forms.Document{}, err
	}
	byID := make(map[string]core.Camera, len(cams))
	for _, c := range cams {
		byID[c.ID] = c
	}
	d := forms.Document{Request: r, Cameras: byID, Policy: env.Core.Policy(), Location: env.Location, Printed: time.Now()}
	if env.Now != nil {
		d.Printed = env.Now()
	}
	d.Checkpoint, d.ApplianceKey = documentCheckpoint(env), env.ApplianceKey
	return d, nil
}

// printSigns writes form 1 for the named cameras, or every camera still
// in place.
func printSigns(env *Env, ids []string, asJSON bool) int {
	cams, err := env.Core.Cameras(env.Actor)
	if err != nil {
		return fail(env, core.ActionCamerasRead, err)
	}
	var pick []core.Camera
	for _, c := range cams {
		if len(ids) == 0 && c.Status != core.CameraRemoved || slices.Contains(ids, c.ID) {
			pick = append(pick, c)
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(pick, func(c core.Camera) bool { return c.ID == id }) {
			return env.Fail(core.ActionCamerasRead, fmt.Errorf("%w: camera %q", core.ErrNotFound, id))
		}
	}
	var b bytes.Buffer
	p := env.Core.Policy()
	if err := forms.Form1(&b, forms.SignDocument{Cameras: pick, Policy: p}); err != nil {
		return env.Fail(core.ActionCamerasRead, err)
	}
	if asJSON {
		return env.JSON(formJSON{Form: 1, Title: p.FormTitle(p.Forms.Sign), HTML: b.String()})
	}
	if _, err := env.Stdout.Write(b.Bytes()); err != nil {
		return env.Fail("", err)
	}
	return ExitOK
}

// isLedgerCSV reports whether a ledger command line asks for CSV
// ("ledger --csv", "ledger export --csv", "ledger export").
func isLedgerCSV(args []string) bool {
	for _, a := range args {
		if a == "--csv" || a == "-csv" || strings.HasPrefix(a, "--csv=") {
			return true
		}
	}
	return len(args) > 0 && args[0] == "export"
}

// runLedgerCSV streams core.ExportLedgerCSV (manager; core records the
// export in the ledger, and the export contains its own entry).
func runLedgerCSV(env *Env, args []string) int {
	f := NewFlags()
	f.Bool("csv")
	machine, all := f.Bool("machine"), f.Bool("all")
	pos, err := f.Parse(args)
	if err == nil && len(pos) > 0 && pos[0] == "export" {
		pos = pos[1:]
	}
	if err != nil || len(pos) > 0 {
		return env.UsageError("ledger", errText(err, pos)+" (ledger --csv [--machine|--all] | ledger export --csv)")
	}
	show, err := ledgerShow(*machine, *all)
	if err != nil {
		return env.UsageError("ledger", err.Error())
	}
	if err := env.Core.ExportLedgerCSV(env.Actor, env.Stdout, show); err != nil {
		return env.Fail(core.ActionLedgerExport, err)
	}
	return ExitOK
}
