package sshd

import (
	"fmt"

	"mimamori/core"
)

// Inquiries and complaints (000 §10, 001 §7): registered, answered,
// closed, with dates.

const inquiryUsage = "add --from WHO --summary S [--contact C] [--channel phone|letter|counter|mail…] [--received T] | answer ID --answer A | close ID [--note N] | show ID | list   (each takes --json)"

type inquiryJSON struct {
	ID         string `json:"id"`
	ReceivedAt string `json:"received_at"`
	From       string `json:"from"`
	Contact    string `json:"contact,omitempty"`
	Channel    string `json:"channel,omitempty"`
	Summary    string `json:"summary"`
	State      string `json:"state"`
	Answer     string `json:"answer,omitempty"`
	AnsweredAt string `json:"answered_at,omitempty"`
	AnsweredBy string `json:"answered_by,omitempty"`
	ClosedAt   string `json:"closed_at,omitempty"`
	ClosedBy   string `json:"closed_by,omitempty"`
	CloseNote  string `json:"close_note,omitempty"`
	CreatedBy  string `json:"created_by"`
	CreatedAt  string `json:"created_at"`
}

func toInquiryJSON(q core.Inquiry) inquiryJSON {
	return inquiryJSON{ID: q.ID, ReceivedAt: jsonTime(q.ReceivedAt), From: q.From, Contact: q.Contact, Channel: q.Channel,
		Summary: q.Summary, State: q.State, Answer: q.Answer, AnsweredAt: jsonTime(q.AnsweredAt), AnsweredBy: q.AnsweredBy,
		ClosedAt: jsonTime(q.ClosedAt), ClosedBy: q.ClosedBy, CloseNote: q.CloseNote, CreatedBy: q.CreatedBy,
		CreatedAt: jsonTime(q.CreatedAt)}
}

func runInquiry(env *Env, args []string) int {
	if len(args) == 0 {
		return env.UsageError("inquiry", "missing subcommand")
	}
	switch args[0] {
	case "add":
		return runInquiryAdd(env, args[1:])
	case "answer":
		return runInquiryAnswer(env, args[1:])
	case "close":
		return runInquiryClose(env, args[1:])
	case "show":
		return runInquiryShow(env, args[1:])
	case "list":
		return runInquiryList(env, args[1:])
	}
	return env.UsageError("inquiry", fmt.Sprintf("unknown subcommand %q", args[0]))
}

// idArg parses "ID [flags]" for cmd's subcommand sub.
func idArg(env *Env, f *Flags, cmd, sub string, args []string) (string, bool) {
	pos, err := f.Parse(args)
	switch {
	case err != nil:
		env.UsageError(cmd, err.Error())
	case len(pos) == 0:
		env.UsageError(cmd, cmd+" "+sub+": missing ID")
	case len(pos) > 1:
		env.UsageError(cmd, fmt.Sprintf("unexpected argument %q", pos[1]))
	default:
		return pos[0], true
	}
	return "", false
}

func inquiryDone(env *Env, asJSON bool, q core.Inquiry) int {
	if asJSON {
		return env.JSON(toInquiryJSON(q))
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", clean(q.ID), inquiryStateLabel(env, q.State))
	return ExitOK
}

func inquiryStateLabel(env *Env, s string) string {
	return labelled(env, s, map[string]string{core.InquiryRegistered: "受付済", core.InquiryAnswered: "回答済", core.InquiryClosed: "完了"})
}

func runInquiryAdd(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	from, summary, contact, channel, received := f.String("from"), f.String("summary"), f.String("contact"), f.String("channel"), f.String("received")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("inquiry", errText(err, pos))
	}
	for _, req := range []string{"from", "summary"} {
		if !f.IsSet(req) {
			return env.UsageError("inquiry", "inquiry add: --"+req+" is required")
		}
	}
	in := core.InquiryInput{From: *from, Summary: *summary, Contact: *contact, Channel: *channel}
	if f.IsSet("received") {
		var err error
		if in.ReceivedAt, err = ParseTime("received", *received); err != nil {
			return env.UsageError("inquiry", err.Error())
		}
	}
	q, err := env.Core.RegisterInquiry(env.Actor, in)
	if err != nil {
		return failField(env, core.ActionInquiryRegister, err)
	}
	if *asJSON {
		return env.JSON(toInquiryJSON(q))
	}
	fmt.Fprintln(env.Stdout, q.ID)
	return ExitOK
}

func runInquiryAnswer(env *Env, args []string) int {
	f := NewFlags()
	asJSON, answer := f.Bool("json"), f.String("answer")
	id, ok := idArg(env, f, "inquiry", "answer", args)
	if !ok {
		return ExitUsage
	}
	if !f.IsSet("answer") {
		return env.UsageError("inquiry", "inquiry answer: --answer is required")
	}
	q, err := env.Core.AnswerInquiry(env.Actor, id, *answer)
	if err != nil {
		return failField(env, core.ActionInquiryAnswer, err)
	}
	return inquiryDone(env, *asJSON, q)
}

func runInquiryClose(env *Env, args []string) int {
	f := NewFlags()
	asJSON, note := f.Bool("json"), f.String("note")
	id, ok := idArg(env, f, "inquiry", "close", args)
	if !ok {
		return ExitUsage
	}
	q, err := env.Core.CloseInquiry(env.Actor, id, *note)
	if err != nil {
		return failField(env, core.ActionInquiryClose, err)
	}
	return inquiryDone(env, *asJSON, q)
}

func runInquiryShow(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	id, ok := idArg(env, f, "inquiry", "show", args)
	if !ok {
		return ExitUsage
	}
	q, err := env.Core.Inquiry(env.Actor, id)
	if err != nil {
		return failField(env, core.ActionInquiriesRead, err)
	}
	if *asJSON {
		return env.JSON(toInquiryJSON(q))
	}
	t := newTable()
	row := func(en, ja, v string) { t.row(env.T(en, ja), v) }
	row("inquiry", "番号", clean(q.ID))
	row("state", "状態", inquiryStateLabel(env, q.State))
	row("received", "受付日時", env.Time(q.ReceivedAt))
	row("from", "申出者", dash(q.From))
	row("contact", "連絡先", dash(q.Contact))
	row("channel", "受付方法", dash(q.Channel))
	row("summary", "内容", dash(q.Summary))
	row("registered by", "受付者", dash(q.CreatedBy))
	row("answer", "回答", dash(q.Answer))
	row("answered", "回答日時", dash(q.AnsweredBy)+"  "+env.Time(q.AnsweredAt))
	row("closed", "完了日時", dash(q.ClosedBy)+"  "+env.Time(q.ClosedAt))
	row("close note", "完了メモ", dash(q.CloseNote))
	t.write(env.Stdout)
	return ExitOK
}

func runInquiryList(env *Env, args []string) int {
	f := NewFlags()
	asJSON := f.Bool("json")
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("inquiry", errText(err, pos))
	}
	qs, err := env.Core.Inquiries(env.Actor)
	if err != nil {
		return failField(env, core.ActionInquiriesRead, err)
	}
	if *asJSON {
		out := make([]inquiryJSON, 0, len(qs))
		for _, q := range qs {
			out = append(out, toInquiryJSON(q))
		}
		return env.JSON(out)
	}
	if len(qs) == 0 {
		fmt.Fprintln(env.Stdout, env.T("no inquiries", "問い合わせはありません"))
		return ExitOK
	}
	t := newTable()
	t.row("ID", env.T("STATE", "状態"), env.T("RECEIVED", "受付日時"), env.T("FROM", "申出者"),
		env.T("CHANNEL", "受付方法"), env.T("SUMMARY", "内容"), env.T("ANSWERED", "回答日時"), env.T("CLOSED", "完了日時"))
	for _, q := range qs {
		t.row(clean(q.ID), inquiryStateLabel(env, q.State), env.Time(q.ReceivedAt), dash(q.From), dash(q.Channel),
			dash(truncate(q.Summary, 40)), env.Time(q.AnsweredAt), env.Time(q.ClosedAt))
	}
	t.write(env.Stdout)
	return ExitOK
}

// truncate shortens s to n runes for a table cell.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
