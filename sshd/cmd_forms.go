package sshd

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"mimamori/core"
	"mimamori/forms"
)

// Printable forms (000 forms 2 and 3) and the ledger as CSV, for scripts:
//
//	ssh host form 2 R-2026-0001 > form2.html      (also: request form2 ID)
//	ssh host form 3 R-2026-0001 > form3.html      (also: request form3 ID)
//	ssh host ledger --csv > ledger.csv            (also: ledger export --csv)

const formUsage = "2|3 ID [--json]   (HTML on stdout: form 2 利用申請書, form 3 検索簿)"

func runForm(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	pos, err := f.Parse(args)
	if err != nil {
		return env.UsageError("form", err.Error())
	}
	if len(pos) != 2 {
		return env.UsageError("form", "form: give the form number (2 or 3) and a request ID")
	}
	var n int
	switch pos[0] {
	case "2", "form2":
		n = 2
	case "3", "form3":
		n = 3
	default:
		return env.UsageError("form", fmt.Sprintf("form: %q is not a form number (2: 利用申請書, 3: 検索簿)", pos[0]))
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
	d, err := formDocument(env, id)
	if err != nil {
		return fail(env, core.ActionRequestsRead, err)
	}
	// Render fully before writing, so a failure never leaves half a form
	// in the caller's file.
	var b bytes.Buffer
	if err := forms.Render(&b, n, d); err != nil {
		return env.Fail(core.ActionRequestsRead, err)
	}
	if asJSON {
		title := map[int]string{2: "利用申請書", 3: "検索簿"}[n]
		return env.JSON(formJSON{Request: d.Request.ID, Form: n, Title: title, HTML: b.String()})
	}
	if _, err := env.Stdout.Write(b.Bytes()); err != nil {
		return env.Fail("", err)
	}
	return ExitOK
}

// formDocument gathers what a form shows: the request, the register's
// entries for its cameras, and the policy's issuer.
func formDocument(env *Env, id string) (forms.Document, error) {
	r, err := env.Core.Request(env.Actor, id)
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
	d := forms.Document{Request: r, Cameras: byID, Location: env.Location, Printed: time.Now()}
	if env.Now != nil {
		d.Printed = env.Now()
	}
	// The city standard's forms are the city's own (四街道市…, addressed to
	// the mayor); other profiles print the generic title.
	if env.Core.Policy().Name == core.CityStandard().Name {
		d.Issuer, d.Addressee = "四街道市", "四街道市長"
	}
	return d, nil
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
	pos, err := f.Parse(args)
	if err == nil && len(pos) > 0 && pos[0] == "export" {
		pos = pos[1:]
	}
	if err != nil || len(pos) > 0 {
		return env.UsageError("ledger", errText(err, pos)+" (ledger --csv | ledger export --csv)")
	}
	if err := env.Core.ExportLedgerCSV(env.Actor, env.Stdout); err != nil {
		return env.Fail(core.ActionLedgerExport, err)
	}
	return ExitOK
}
