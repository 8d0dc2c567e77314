package sshd

import (
	"fmt"
	"strconv"

	"mimamori/core"
)

type actorJSON struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	Role        string `json:"role"`
}

type entryJSON struct {
	Seq      uint64            `json:"seq"`
	Time     string            `json:"time"`
	Actor    actorJSON         `json:"actor"`
	Action   string            `json:"action"`
	Subject  string            `json:"subject,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

type verifyJSON struct {
	OK        bool   `json:"ok"`
	Entries   uint64 `json:"entries"`
	BrokenSeq uint64 `json:"broken_seq,omitempty"`
	Problem   string `json:"problem,omitempty"`
	Root      string `json:"root,omitempty"`
}

type checkpointJSON struct {
	Origin      string `json:"origin"`
	Size        uint64 `json:"size"`
	Root        string `json:"root"`
	Time        string `json:"time"`
	Fingerprint string `json:"fingerprint"`
	Note        string `json:"note"`
}

func runLedger(env *Env, args []string) int {
	if isLedgerCSV(args) { // ledger --csv | ledger export --csv (cmd_forms.go)
		return runLedgerCSV(env, args)
	}
	if len(args) > 0 && args[0] == "verify" {
		return runLedgerVerify(env, args[1:])
	}
	if len(args) > 0 && args[0] == "checkpoint" {
		return runLedgerCheckpoint(env, args[1:])
	}
	f := NewFlags()
	asJSON := f.Bool("json")
	machine, all := f.Bool("machine"), f.Bool("all")
	sinceS, limitS := f.String("since"), f.String("limit")
	pos, err := f.Parse(args)
	if err != nil || len(pos) > 0 {
		return env.UsageError("ledger", errText(err, pos))
	}
	show, err := ledgerShow(*machine, *all)
	if err != nil {
		return env.UsageError("ledger", err.Error())
	}
	var since uint64
	if *sinceS != "" {
		if since, err = strconv.ParseUint(*sinceS, 10, 64); err != nil {
			return env.UsageError("ledger", fmt.Sprintf("--since: not a sequence number: %q", *sinceS))
		}
	}
	limit := 0 // core's default
	if *limitS != "" {
		if limit, err = strconv.Atoi(*limitS); err != nil || limit <= 0 {
			return env.UsageError("ledger", fmt.Sprintf("--limit: not a positive number: %q", *limitS))
		}
	}
	entries, err := env.Core.LedgerShown(env.Actor, since, limit, show)
	if err != nil {
		return env.Fail(core.ActionLedgerRead, err)
	}
	if *asJSON {
		out := make([]entryJSON, 0, len(entries))
		for _, e := range entries {
			out = append(out, entryJSON{Seq: e.Seq, Time: jsonTime(e.Time),
				Actor:  actorJSON{Name: e.Actor.Name, Fingerprint: e.Actor.Fingerprint, Role: e.Actor.Role.String()},
				Action: string(e.Action), Subject: e.Subject, Details: e.Details, PrevHash: e.PrevHash, Hash: e.Hash})
		}
		return env.JSON(out)
	}
	if len(entries) == 0 {
		fmt.Fprintln(env.Stdout, msg(env.Lang, msgNoEntries))
		return ExitOK
	}
	t := newTable()
	t.row(env.T("SEQ", "番号"), env.T("TIME", "日時"), env.T("ACTOR", "実施者"), env.T("ROLE", "役割"),
		env.T("ACTION", "操作"), env.T("SUBJECT", "対象"), env.T("DETAILS", "詳細"))
	for _, e := range entries {
		t.row(strconv.FormatUint(e.Seq, 10), env.Time(e.Time), dash(e.Actor.Name), e.Actor.Role.String(),
			actionLabel(env, e.Action), dash(e.Subject), kvLang(e.Details, env.Lang))
	}
	t.write(env.Stdout)
	return ExitOK
}

func runLedgerVerify(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("ledger", errText(err, pos))
	}
	rep, err := env.Core.VerifyLedger(env.Actor)
	if err != nil {
		return env.Fail(core.ActionLedgerVerify, err)
	}
	if *asJSON {
		j := verifyJSON{OK: rep.OK, Entries: rep.Entries, BrokenSeq: rep.BrokenSeq, Problem: rep.Problem}
		if rep.OK {
			j.Root = rep.Root.String()
		}
		if code := env.JSON(j); code != ExitOK {
			return code
		}
	} else if rep.OK {
		fmt.Fprintf(env.Stdout, msg(env.Lang, msgLedgerIntact)+"\n", rep.Entries)
	} else {
		fmt.Fprintf(env.Stdout, msg(env.Lang, msgLedgerBroken)+"\n", rep.BrokenSeq, rep.Entries, clean(rep.Problem))
	}
	if !rep.OK {
		fmt.Fprintf(env.Stderr, "ledger broken at seq %d: %s\n", rep.BrokenSeq, clean(rep.Problem))
		return ExitError
	}
	return ExitOK
}

// runLedgerCheckpoint prints the current signed checkpoint (manager), as
// is, for safekeeping outside the appliance:
//
//	ssh … ledger checkpoint > checkpoint-2026-12-01.txt
//	mimamori ledger verify --data DIR --checkpoint checkpoint-2026-12-01.txt
func runLedgerCheckpoint(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("ledger", errText(err, pos))
	}
	cp, err := env.Core.Checkpoint(env.Actor)
	if err != nil {
		return env.Fail(core.ActionLedgerCheckpoint, err)
	}
	if *asJSON {
		return env.JSON(checkpointJSON{Origin: cp.Origin, Size: cp.Size, Root: cp.Root.String(), Time: jsonTime(cp.Time),
			Fingerprint: cp.Fingerprint, Note: string(cp.Text)})
	}
	_, _ = env.Stdout.Write(cp.Text)
	return ExitOK
}

// ledgerShow: people's acts by default; --machine for the appliance's own
// records (erasure proofs, recording events, migrations), --all for both.
func ledgerShow(machine, all bool) (core.LedgerShow, error) {
	switch {
	case machine && all:
		return 0, fmt.Errorf("--machine and --all exclude each other")
	case machine:
		return core.ShowMachine, nil
	case all:
		return core.ShowAll, nil
	}
	return core.ShowPeople, nil
}
