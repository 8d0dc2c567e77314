package tui

import (
	"context"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"mimamori/core"
)

// Write calls to core, each in a tea.Cmd returning a typed message.

// reqActionMsg is the outcome of one request step.
type reqActionMsg struct {
	what   string // i18n key of the done message ("%s" is the id)
	id     string
	req    core.Request
	err    error
	secret string // a package secret to show the manager, once
	sheet  bool   // approved; the manager prints the key sheet from their own computer
	// closeForm: the step is done even though err is set (approved, but
	// the protection failed): the form closes, the error shows.
	closeForm bool
}

// holdActionMsg is the outcome of adding or releasing a hold.
type holdActionMsg struct {
	what string
	id   string
	err  error
}

func (s *session) reqStep(what, id string, call func(b Backend, a core.Actor) (core.Request, error)) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		r, err := call(b, a)
		if r.ID != "" {
			id = r.ID
		}
		return reqActionMsg{what: what, id: id, req: r, err: err}
	}
}

func (s *session) registerRequest(in core.RequestInput) tea.Cmd {
	return s.reqStep("req.done.register", "", func(b Backend, a core.Actor) (core.Request, error) {
		return b.RegisterRequest(a, in)
	})
}

func (s *session) instruct(id, operator string) tea.Cmd {
	return s.reqStep("req.done.instruct", id, func(b Backend, a core.Actor) (core.Request, error) {
		return b.InstructSearch(a, id, operator)
	})
}

func (s *session) recordResult(id, found, note string, ranges []core.FoundRange) tea.Cmd {
	return s.reqStep("req.done.result", id, func(b Backend, a core.Actor) (core.Request, error) {
		return b.RecordResult(a, id, found, note, ranges...)
	})
}

// How an approved request's package is protected (the manager chooses).
const (
	protectSecret    = "secret"    // a fresh secret, shown on screen once
	protectSheet     = "sheet"     // a fresh secret, printed as a key sheet on the manager's computer
	protectRecipient = "recipient" // the recipient's public key
)

// approve approves and at once chooses the package's protection, so the
// secret reaches the manager who approved and nobody else. For a sheet
// the protection is left to the sheet's command, which prints the secret
// on the manager's own computer: the console never shows it.
func (s *session) approve(id string, in core.ApprovalInput, protect, recipientKey string) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	unprotected := fmt.Sprintf(s.T("req.approved.unprotected"), id) // the language is read here, not in the Cmd
	return func() tea.Msg {
		// A recipient key that does not parse is refused before anything
		// is approved, next to its field.
		if protect == protectRecipient {
			if _, _, err := core.ParseRecipientKey(recipientKey); err != nil {
				return reqActionMsg{what: "req.done.approve", id: id, err: err}
			}
		}
		r, err := b.Approve(a, id, in)
		if err != nil {
			return reqActionMsg{what: "req.done.approve", id: id, req: r, err: err}
		}
		m := protectMsg(b, a, id, protect, recipientKey)
		m.what = "req.done.approve"
		if m.err != nil {
			m.req, m.closeForm = r, true
			m.err = fmt.Errorf("%s: %w", unprotected, m.err)
		}
		return m
	}
}

// protect chooses (again) what an approved request's package is encrypted
// to; a new secret replaces the old one, which then opens nothing.
func (s *session) protect(id, protect, recipientKey string) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		m := protectMsg(b, a, id, protect, recipientKey)
		m.what = "req.done.protect"
		return m
	}
}

func protectMsg(b Backend, a core.Actor, id, protect, recipientKey string) reqActionMsg {
	if protect == protectSheet {
		r, err := b.Request(a, id)
		return reqActionMsg{id: id, req: r, err: err, sheet: err == nil}
	}
	if protect != protectRecipient {
		recipientKey = ""
	}
	k, err := b.ProtectPackage(a, id, recipientKey)
	if err != nil {
		return reqActionMsg{id: id, err: err}
	}
	return reqActionMsg{id: id, req: k.Request, secret: k.Secret}
}

func (s *session) deny(id, reason string) tea.Cmd {
	return s.reqStep("req.done.deny", id, func(b Backend, a core.Actor) (core.Request, error) {
		return b.Deny(a, id, reason)
	})
}

func (s *session) provide(id string, p core.Provision) tea.Cmd {
	return s.reqStep("req.done.provide", id, func(b Backend, a core.Actor) (core.Request, error) {
		return b.RecordProvision(a, id, p)
	})
}

func (s *session) closeRequest(id string) tea.Cmd {
	return s.reqStep("req.done.close", id, func(b Backend, a core.Actor) (core.Request, error) {
		return b.CloseRequest(a, id)
	})
}

func (s *session) addHold(in core.HoldInput) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		h, err := b.AddHold(a, in)
		return holdActionMsg{what: "hold.done.add", id: h.ID, err: err}
	}
}

func (s *session) releaseRequestHolds(requestID, reason string) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		_, err := b.ReleaseRequestHolds(a, requestID, reason)
		return holdActionMsg{what: "hold.done.releaseall", id: requestID, err: err}
	}
}

func (s *session) releaseHold(id, reason string) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		return holdActionMsg{what: "hold.done.release", id: id, err: b.ReleaseHold(a, id, reason)}
	}
}

// Export: ExportRequest runs in one Cmd; its progress callback feeds a
// one-slot channel (latest wins, never blocks the exporter) that a second,
// re-armed Cmd turns into messages.

type exportRun struct {
	id       string
	cancel   context.CancelFunc
	ctx      context.Context
	prog     chan exportProgressMsg
	finished chan struct{}
}

type exportProgressMsg struct {
	run         *exportRun
	done, total int64
}

type exportDoneMsg struct {
	run *exportRun
	res reqActionMsg
}

func (s *session) startExport(id string, passphrase []byte) (*exportRun, tea.Cmd) {
	ctx, cancel := context.WithCancel(s.c.Ctx)
	r := &exportRun{id: id, cancel: cancel, ctx: ctx, prog: make(chan exportProgressMsg, 1), finished: make(chan struct{})}
	b, a, dir := s.c.Core, s.c.Actor, s.c.ExportDir
	work := func() tea.Msg {
		defer close(r.finished)
		defer cancel()
		req, err := b.ExportRequest(ctx, a, id, passphrase, dir, func(done, total int64) {
			m := exportProgressMsg{run: r, done: done, total: total}
			select { // drop a stale value so the newest is kept
			case <-r.prog:
			default:
			}
			select {
			case r.prog <- m:
			default:
			}
		})
		return exportDoneMsg{run: r, res: reqActionMsg{what: "req.done.export", id: id, req: req, err: err}}
	}
	return r, tea.Batch(work, waitExport(r))
}

// waitExport delivers the next progress value; it ends with the export.
func waitExport(r *exportRun) tea.Cmd {
	return func() tea.Msg {
		select {
		case m := <-r.prog:
			return m
		case <-r.finished:
			return nil
		}
	}
}

// viewLink is one minted URL with how to reach it.
type viewLink struct {
	camera   string
	from, to time.Time
	live     bool
	url      string
	forward  string
	expires  time.Time
}

type mintMsg struct {
	origin string // the page that asked
	title  string
	links  []viewLink
	err    error
}

// mint asks the Viewer for one URL per camera (it authorizes and ledgers
// each view).
func (s *session) mint(origin, title string, cams []string, from, to time.Time, live bool, request, reason string) tea.Cmd {
	v, a, sid := s.c.Viewer, s.c.Actor, s.c.SessionID
	if v == nil {
		return nil
	}
	return func() tea.Msg {
		out := mintMsg{origin: origin, title: title}
		for _, c := range cams {
			url, fwd, exp, err := v.Mint(a, sid, core.ViewInput{Camera: c, From: from, To: to, Live: live,
				Request: request, Reason: reason})
			if err != nil {
				out.err = err
				return out
			}
			out.links = append(out.links, viewLink{camera: c, from: from, to: to, live: live, url: url, forward: fwd, expires: exp})
		}
		return out
	}
}

// coverCheckMsg: how much of [from, to) each camera has not recorded.
type coverCheckMsg struct {
	key     string
	missing map[string]time.Duration
	err     error
}

func (s *session) coverCheck(key string, cams []string, from, to time.Time) tea.Cmd {
	b, a := s.c.Core, s.c.Actor
	return func() tea.Msg {
		out := coverCheckMsg{key: key, missing: map[string]time.Duration{}}
		for _, c := range cams {
			sp, err := b.Coverage(a, c, from, to)
			if err != nil {
				out.err = err
				return out
			}
			var got time.Duration
			for _, x := range sp {
				if !x.Damaged {
					got += overlap(x.Start, x.End, from, to)
				}
			}
			if miss := to.Sub(from) - got; miss > 0 {
				out.missing[c] = miss
			}
		}
		return out
	}
}
