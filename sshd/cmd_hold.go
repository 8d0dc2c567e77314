package sshd

import (
	"fmt"
	"time"

	"mimamori/core"
)

// Holds: retention extended with a recorded reason (001 §5-3), and the
// provisional holds requests place.

const holdUsage = "add --camera C --from T --to T --until T --reason R | list | release ID|--request REQ --reason R   (each takes --json)"

type holdJSON struct {
	ID            string `json:"id"`
	Camera        string `json:"camera"`
	Kind          string `json:"kind"`
	Reason        string `json:"reason"`
	Request       string `json:"request,omitempty"`
	From          string `json:"from"`
	To            string `json:"to"`
	Until         string `json:"until"`
	Active        bool   `json:"active"`
	CreatedBy     string `json:"created_by"`
	CreatedAt     string `json:"created_at"`
	ReleasedAt    string `json:"released_at,omitempty"`
	ReleaseReason string `json:"release_reason,omitempty"`
}

func toHoldJSON(env *Env, h core.Hold) holdJSON {
	return holdJSON{ID: h.ID, Camera: h.Camera, Kind: h.Kind, Reason: h.Reason, Request: h.RequestID,
		From: jsonTime(h.From), To: jsonTime(h.To), Until: jsonTime(h.Until), Active: h.ActiveAt(env.Now()),
		CreatedBy: h.CreatedBy, CreatedAt: jsonTime(h.CreatedAt), ReleasedAt: jsonTime(h.ReleasedAt),
		ReleaseReason: h.ReleaseReason}
}

func runHold(env *Env, args []string) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 {
		return env.UsageError("hold", "missing subcommand")
	}
	switch args[0] {
	case "add":
		return runHoldAdd(env, args[1:])
	case "list":
		return runHoldList(env, args[1:])
	case "release":
		return runHoldRelease(env, args[1:])
	}
	return env.UsageError("hold", fmt.Sprintf("unknown subcommand %q", args[0]))
}

func runHoldAdd(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	cam, fromS, toS, untilS, reason := f.String("camera"), f.String("from"), f.String("to"), f.String("until"), f.String("reason")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("hold", errText(err, pos))
	}
	for _, req := range []string{"camera", "from", "to", "until", "reason"} {
		if !f.IsSet(req) {
			return env.UsageError("hold", "hold add: --"+req+" is required")
		}
	}
	in := core.HoldInput{Camera: *cam, Reason: *reason}
	var err error
	if in.From, err = ParseTime("from", *fromS); err != nil {
		return env.UsageError("hold", err.Error())
	}
	if in.To, err = ParseTime("to", *toS); err != nil {
		return env.UsageError("hold", err.Error())
	}
	if in.Until, err = ParseTime("until", *untilS); err != nil {
		return env.UsageError("hold", err.Error())
	}
	h, err := env.Core.AddHold(env.Actor, in)
	if err != nil {
		return fail(env, core.ActionHoldAdd, err)
	}
	if *asJSON {
		return env.JSON(toHoldJSON(env, h))
	}
	fmt.Fprintln(env.Stdout, h.ID)
	return ExitOK
}

func runHoldList(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("hold", errText(err, pos))
	}
	hs, err := env.Core.Holds(env.Actor)
	if err != nil {
		return fail(env, core.ActionHoldsRead, err)
	}
	if *asJSON {
		out := make([]holdJSON, 0, len(hs))
		for _, h := range hs {
			out = append(out, toHoldJSON(env, h))
		}
		return env.JSON(out)
	}
	if len(hs) == 0 {
		fmt.Fprintln(env.Stdout, env.T("no holds", "保全はありません"))
		return ExitOK
	}
	now := env.Now()
	t := newTable()
	t.row("ID", env.T("CAMERA", "カメラ"), env.T("KIND", "種別"), env.T("FROM", "開始"), env.T("TO", "終了"),
		env.T("UNTIL", "保全期限"), env.T("STATE", "状態"), env.T("BY", "設定者"), env.T("CREATED", "設定日時"),
		env.T("REASON", "理由"))
	for _, h := range hs {
		state := env.T("active", "有効")
		switch {
		case !h.ReleasedAt.IsZero():
			state = env.T("released ", "解除 ") + env.Time(h.ReleasedAt) + " (" + dash(h.ReleaseReason) + ")"
		case !h.ActiveAt(now):
			state = env.T("lapsed", "期限切れ")
		}
		kind := h.Kind
		if env.Lang == LangJA {
			kind = map[string]string{core.HoldExtension: "延長 (extension)", core.HoldProvisional: "仮保全 (provisional)"}[h.Kind]
			if kind == "" {
				kind = h.Kind
			}
		}
		reason := core.HoldReason(h, env.Lang)
		if h.RequestID != "" && reason == "" {
			reason = h.RequestID
		}
		t.row(clean(h.ID), dash(h.Camera), dash(kind), env.Time(h.From), env.Time(h.To), env.Time(h.Until),
			state, dash(h.CreatedBy), env.Time(h.CreatedAt), dash(reason))
	}
	t.write(env.Stdout)
	return ExitOK
}

func runHoldRelease(env *Env, args []string) int {
	f := NewFlags()
	asJSON, reason, request := f.Bool("json"), f.String("reason"), f.String("request")
	pos, err := f.Parse(args)
	switch {
	case err != nil:
		return env.UsageError("hold", err.Error())
	case f.IsSet("request") && len(pos) == 0 && f.IsSet("reason"):
		// Every hold of a request in one act (manager).
		ids, err := env.Core.ReleaseRequestHolds(env.Actor, *request, *reason)
		if err != nil {
			return fail(env, core.ActionHoldRelease, err)
		}
		if *asJSON {
			return env.JSON(map[string]any{"request": *request, "released": ids})
		}
		for _, id := range ids {
			fmt.Fprintf(env.Stdout, "%s: %s\n", clean(id), env.T("released", "解除しました"))
		}
		return ExitOK
	case f.IsSet("request") && len(pos) > 0:
		return env.UsageError("hold", "hold release: give a hold ID or --request ID, not both")
	case len(pos) == 0:
		return env.UsageError("hold", "hold release: missing hold ID (or --request ID)")
	case len(pos) > 1:
		return env.UsageError("hold", fmt.Sprintf("unexpected argument %q", pos[1]))
	case !f.IsSet("reason"):
		return env.UsageError("hold", "hold release: --reason is required")
	}
	id := pos[0]
	if err := env.Core.ReleaseHold(env.Actor, id, *reason); err != nil {
		return fail(env, core.ActionHoldRelease, err)
	}
	if *asJSON {
		hs, err := env.Core.Holds(env.Actor)
		if err != nil {
			return fail(env, core.ActionHoldsRead, err)
		}
		for _, h := range hs {
			if h.ID == id {
				return env.JSON(toHoldJSON(env, h))
			}
		}
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", clean(id), env.T("released", "解除しました"))
	return ExitOK
}
