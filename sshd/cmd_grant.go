package sshd

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"mimamori/core"
)

// Temporary viewers (001 §4: others view only with the manager's consent).
// The city standard (000 §9-5) allows no viewers; core refuses, and the
// message says it is the policy, not the role.

const grantUsage = `add --name N --key "ssh-ed25519 AAAA…" --cameras c1,c2 --from T --to T [--live] --until T --reason R | list | revoke ID --reason R   (each takes --json)`

// fieldFlags names the flag behind each core field for the commands in
// this file and its siblings; fail (cmd_request.go) covers the rest.
var fieldFlags = map[string]string{
	"name": "--name", "public_key": "--key", "live": "--live", "from": "--from", "reason": "--reason",
	"summary": "--summary", "contact": "--contact", "channel": "--channel", "answer": "--answer",
	"note": "--note", "kind": "--kind", "camera": "--camera", "performer": "--performer",
	"notes": "--notes", "media": "--media", "method": "--method", "date": "--date", "received": "--received",
}

// failField reports err; a *core.FieldError names its flag, and a policy
// refusal (the role may, the profile forbids) keeps core's explanation.
func failField(env *Env, action core.Action, err error) int {
	var fe *core.FieldError
	if errors.As(err, &fe) {
		if f, ok := fieldFlags[fe.Field]; ok {
			fmt.Fprintf(env.Stderr, msg(env.Lang, msgError)+"\n", "invalid "+fe.Field+" ("+f+"): "+clean(fe.Reason))
			return ExitError
		}
		return fail(env, action, err)
	}
	if errors.Is(err, core.ErrForbidden) && core.Allowed(env.Actor.Role, action) {
		fmt.Fprintf(env.Stderr, msg(env.Lang, msgError)+"\n", clean(err.Error()))
		return ExitError
	}
	return fail(env, action, err)
}

type grantJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Fingerprint string   `json:"fingerprint"`
	Cameras     []string `json:"cameras"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Live        bool     `json:"live"`
	Until       string   `json:"until"`
	Reason      string   `json:"reason"`
	Active      bool     `json:"active"`
	CreatedBy   string   `json:"created_by"`
	CreatedAt   string   `json:"created_at"`
	RevokedAt   string   `json:"revoked_at,omitempty"`
}

func toGrantJSON(g core.Grant, now time.Time) grantJSON {
	return grantJSON{ID: g.ID, Name: g.Name, Fingerprint: g.Fingerprint, Cameras: append([]string{}, g.Cameras...),
		From: jsonTime(g.From), To: jsonTime(g.To), Live: g.Live, Until: jsonTime(g.Until), Reason: g.Reason,
		Active: g.RevokedAt.IsZero() && now.Before(g.Until), CreatedBy: g.CreatedBy, CreatedAt: jsonTime(g.CreatedAt),
		RevokedAt: jsonTime(g.RevokedAt)}
}

func envNow(env *Env) time.Time {
	if env.Now != nil {
		return env.Now()
	}
	return time.Now()
}

func runGrant(env *Env, args []string) int {
	if len(args) == 0 {
		return env.UsageError("grant", "missing subcommand")
	}
	switch args[0] {
	case "add":
		return runGrantAdd(env, args[1:])
	case "list":
		return runGrantList(env, args[1:])
	case "revoke":
		return runGrantRevoke(env, args[1:])
	}
	return env.UsageError("grant", fmt.Sprintf("unknown subcommand %q", args[0]))
}

// parseTimes fills *dst[i] from the flag named names[i], if set.
func parseTimes(f *Flags, vals map[string]*string, dst map[string]*time.Time) error {
	for name, p := range dst {
		if !f.IsSet(name) {
			continue
		}
		t, err := ParseTime(name, *vals[name])
		if err != nil {
			return err
		}
		*p = t
	}
	return nil
}

func runGrantAdd(env *Env, args []string) int {
	f := NewFlags()
	asJSON, live := f.Bool("json"), f.Bool("live")
	name, key, cams, reason := f.String("name"), f.String("key"), f.String("cameras"), f.String("reason")
	vals := map[string]*string{"from": f.String("from"), "to": f.String("to"), "until": f.String("until")}
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("grant", errText(err, pos))
	}
	for _, req := range []string{"name", "key", "cameras", "from", "to", "until", "reason"} {
		if !f.IsSet(req) {
			return env.UsageError("grant", "grant add: --"+req+" is required")
		}
	}
	in := core.GrantInput{Name: *name, AuthorizedKey: *key, Cameras: splitList(*cams), Live: *live, Reason: *reason}
	if err := parseTimes(f, vals, map[string]*time.Time{"from": &in.From, "to": &in.To, "until": &in.Until}); err != nil {
		return env.UsageError("grant", err.Error())
	}
	g, err := env.Core.GrantViewer(env.Actor, in)
	if errors.Is(err, core.ErrForbidden) && core.Allowed(env.Actor.Role, core.ActionViewerGrant) {
		// The role may grant, so it is the policy profile that forbids it.
		fmt.Fprintf(env.Stderr, msg(env.Lang, msgError)+"\n", env.T(
			"viewer grants are forbidden by the policy profile; only the manager and operators may view",
			"このポリシーでは一時閲覧者の許可は認められていません (閲覧は管理責任者と取扱担当者のみ)")+": "+clean(err.Error()))
		return ExitError
	}
	if err != nil {
		return failField(env, core.ActionViewerGrant, err)
	}
	if *asJSON {
		return env.JSON(toGrantJSON(g, envNow(env)))
	}
	fmt.Fprintln(env.Stdout, g.ID)
	return ExitOK
}

func runGrantList(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("grant", errText(err, pos))
	}
	gs, err := env.Core.Grants(env.Actor)
	if err != nil {
		return failField(env, core.ActionGrantsRead, err)
	}
	now := envNow(env)
	if *asJSON {
		out := make([]grantJSON, 0, len(gs))
		for _, g := range gs {
			out = append(out, toGrantJSON(g, now))
		}
		return env.JSON(out)
	}
	if len(gs) == 0 {
		fmt.Fprintln(env.Stdout, env.T("no viewer grants", "閲覧許可はありません"))
		return ExitOK
	}
	t := newTable()
	t.row("ID", env.T("NAME", "名前"), env.T("CAMERAS", "カメラ"), env.T("FROM", "開始"), env.T("TO", "終了"),
		env.T("LIVE", "ライブ"), env.T("UNTIL", "期限"), env.T("STATE", "状態"), env.T("REASON", "理由"))
	for _, g := range gs {
		j := toGrantJSON(g, now)
		state := env.T("expired", "期限切れ")
		switch {
		case !g.RevokedAt.IsZero():
			state = env.T("revoked", "取消済")
		case j.Active:
			state = env.T("active", "有効")
		}
		liveS := env.T("no", "なし")
		if g.Live {
			liveS = env.T("yes", "あり")
		}
		t.row(clean(g.ID), dash(g.Name), dash(strings.Join(g.Cameras, ",")), env.Time(g.From), env.Time(g.To),
			liveS, env.Time(g.Until), state, dash(g.Reason))
	}
	t.write(env.Stdout)
	return ExitOK
}

func runGrantRevoke(env *Env, args []string) int {
	f := NewFlags()
	asJSON, reason := f.Bool("json"), f.String("reason")
	pos, err := f.Parse(args)
	if err != nil || len(pos) != 1 {
		if err == nil && len(pos) == 0 {
			err = errors.New("grant revoke: missing grant ID")
		}
		return env.UsageError("grant", errText(err, pos[min(1, len(pos)):]))
	}
	if !f.IsSet("reason") || strings.TrimSpace(*reason) == "" {
		return env.UsageError("grant", "grant revoke: --reason is required")
	}
	if err := env.Core.RevokeGrant(env.Actor, pos[0], *reason); err != nil {
		return failField(env, core.ActionViewerRevoke, err)
	}
	if *asJSON {
		return env.JSON(map[string]any{"id": pos[0], "revoked": true, "reason": *reason})
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", clean(pos[0]), env.T("revoked", "取消済"))
	return ExitOK
}
