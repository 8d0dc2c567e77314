package sshd

import (
	"fmt"

	"mimamori/core"
	"mimamori/forms"
)

type protectionJSON struct {
	Method    string `json:"method"`
	Recipient string `json:"recipient"`
	KeyID     string `json:"key_id"`
	By        string `json:"by"`
	At        string `json:"at"`
}

func protectionLabel(env *Env, method string) string {
	switch method {
	case core.ProtectApprovalSecret:
		return env.T("secret held by the manager", "管理責任者が保持する鍵")
	case core.ProtectRecipientKey:
		return env.T("recipient's public key", "受領者の公開鍵")
	}
	return clean(method)
}

// request protect ID [--recipient-key KEY] [--sheet]: the manager chooses
// (again) what the package of an approved request is encrypted to: a new
// secret, shown only now, or the recipient's public key.
func runRequestProtect(env *Env, args []string) int {
	f := NewFlags()
	asJSON, sheet, recipientKey := f.Bool("json"), f.Bool("sheet"), f.String("recipient-key")
	id, ok := oneID(env, f, "protect", args)
	if !ok {
		return ExitUsage
	}
	r, err := env.Core.Request(env.Actor, id)
	if err != nil {
		return fail(env, core.ActionRequestProtect, err)
	}
	return protectAndShow(env, r, *recipientKey, *sheet, *asJSON)
}

// protectAndShow chooses the package protection of approved request r and
// shows the manager the secret, once: as text, as JSON, or (--sheet) as
// the printable key sheet for the recipient.
func protectAndShow(env *Env, r core.Request, recipientKey string, sheet, asJSON bool) int {
	k, err := env.Core.ProtectPackage(env.Actor, r.ID, recipientKey)
	if err != nil {
		if r.State == core.StateApproved {
			fmt.Fprintf(env.Stderr, env.T("%s is approved, but its package protection was not set: ", "%s は承認済みですが、パッケージの保護を設定できませんでした: "), clean(r.ID))
		}
		return fail(env, core.ActionRequestProtect, err)
	}
	r = k.Request
	if k.UnusedKey != "" {
		// Stderr, so it shows with --json and --sheet too.
		fmt.Fprintf(env.Stderr, env.T("The recipient key %s named at registration by %s was not used: only a manager chooses what a package opens with. To use it, give it yourself: request protect %s --recipient-key KEY\n",
			"登録時に %[2]s が指定した受領者の鍵 %[1]s は使いません（パッケージの鍵は管理責任者が決めます）。使う場合は自ら指定してください: request protect %[3]s --recipient-key KEY\n"),
			clean(k.UnusedKey), clean(k.UnusedKeyBy), clean(r.ID))
	}
	switch {
	case sheet && k.Secret != "":
		err := forms.RenderKeySheet(env.Stdout, forms.KeySheet{Request: r, Secret: k.Secret, ApplianceKey: env.ApplianceKey,
			Location: env.Location, Printed: env.Now()})
		if err != nil {
			return env.Fail(core.ActionRequestProtect, err)
		}
		return ExitOK
	case asJSON:
		out := toRequestJSON(r)
		out.PackageSecret = k.Secret
		return env.JSON(out)
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", clean(r.ID), stateLabel(env, r.State))
	if k.Secret == "" {
		fmt.Fprintf(env.Stdout, env.T("The package will be encrypted to the recipient's key %s.\n",
			"パッケージは受領者の鍵 %s に対して暗号化されます。\n"), clean(r.Protection.KeyID))
		return ExitOK
	}
	fmt.Fprintln(env.Stdout, env.T("Package secret (shown only now and not stored; give it to the recipient, print it with --sheet):",
		"パッケージ鍵（今だけ表示され保存されません。受領者に渡してください。--sheet で印刷用）:"))
	fmt.Fprintf(env.Stdout, "  %s\n", k.Secret)
	fmt.Fprintf(env.Stdout, env.T("The recipient checks and opens the package with:\n  mimamori verify PACKAGE --identity key.txt --key %s\n",
		"受領者は次で確認して開きます:\n  mimamori verify PACKAGE --identity key.txt --key %s\n"), env.ApplianceKey)
	return ExitOK
}
