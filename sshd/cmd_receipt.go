package sshd

import (
	"bytes"

	"mimamori/core"
	"mimamori/forms"
)

// documentCheckpoint is the ledger checkpoint printed on forms and
// receipts, nil when none can be signed.
func documentCheckpoint(env *Env) *core.Checkpoint {
	cp, err := env.Core.DocumentCheckpoint(env.Actor)
	if err != nil {
		return nil
	}
	return &cp
}

// request receipt ID (also: form receipt ID): the printable handover
// receipt of an exported request.
func runRequestReceipt(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := oneID(env, f, "receipt", args)
	if !ok {
		return ExitUsage
	}
	return printReceipt(env, id, *asJSON)
}

func printReceipt(env *Env, id string, asJSON bool) int {
	r, err := env.Core.Request(env.Actor, id)
	if err != nil {
		return fail(env, core.ActionRequestsRead, err)
	}
	rc := forms.Receipt{Request: r, ApplianceKey: env.ApplianceKey, Checkpoint: documentCheckpoint(env),
		Location: env.Location, Printed: env.Now(), Issuer: env.Core.Policy().Issuer()}
	var b bytes.Buffer
	if err := forms.RenderReceipt(&b, rc); err != nil {
		return env.Fail(core.ActionRequestsRead, err)
	}
	if asJSON {
		return env.JSON(formJSON{Request: r.ID, Title: "提供受領書 (handover receipt)", HTML: b.String()})
	}
	if _, err := env.Stdout.Write(b.Bytes()); err != nil {
		return env.Fail("", err)
	}
	return ExitOK
}
