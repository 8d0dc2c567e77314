package sshd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/ssh"

	"mimamori/core"
)

// Exit statuses of script commands.
const (
	ExitOK    = 0
	ExitError = 1 // the command ran and failed (forbidden, not found, ...)
	ExitUsage = 2 // the command line could not be understood
)

// Command is one script command, e.g. "ledger". Subcommands ("ledger
// verify") are the command's own business: Run gets every argument after
// the name.
type Command struct {
	Name      string
	Usage     string // synopsis without the name, e.g. "[--json] [--since SEQ]"
	Summary   string // one line, English
	SummaryJa string // one line, Japanese
	Run       func(env *Env, args []string) int
	// Access is the core action a role needs to run the command, asked of
	// core before any of the command line is read: a forbidden caller
	// gets "forbidden" and one (coalesced) denied entry whatever follows
	// the name, and learns nothing of the command's syntax. Keys: "" is
	// the command itself, and every subcommand not listed; a word is a
	// subcommand (the first argument that is not a flag); a key starting
	// with "-" is a flag that changes what the command does (ledger
	// --csv) and wins wherever it appears. Without Access the command is
	// open to whoever may log in. Core checks again, with the input, for
	// what depends on it (an operator's own requests, a technician's
	// inspections).
	Access map[string]core.Action
}

// action is what a role needs for cmd with args (the arguments after
// its name), and the subject the refusal names: the command and the
// subcommand, never the caller's text.
func (cmd Command) action(args []string) (core.Action, string) {
	// Flags anywhere, even after "--": a command may look for them so
	// (ledger --csv), and the stricter action is the safe guess.
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "-") || strings.TrimLeft(name, "-") == "" {
			continue
		}
		flag := "--" + strings.TrimLeft(name, "-")
		if act, ok := cmd.Access[flag]; ok {
			return act, cmd.Name + " " + flag
		}
	}
	for _, a := range args {
		if a == "--" || strings.HasPrefix(a, "-") {
			continue
		}
		if act, ok := cmd.Access[a]; ok && a != "" {
			return act, cmd.Name + " " + a
		}
		break
	}
	if act, ok := cmd.Access[""]; ok {
		return act, cmd.Name
	}
	return core.ActionLogin, cmd.Name
}

// Env is what a command runs with. Everything a command does to the
// appliance goes through Core with Actor, so core checks (and ledgers)
// every permission.
type Env struct {
	Ctx       context.Context // ends when the session does
	Actor     core.Actor
	Core      *core.Store
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	Lang      string         // LangJA or LangEN
	Location  *time.Location // for human-readable times
	Logger    *slog.Logger
	Now       func() time.Time
	Session   ssh.Session // nil when not run over SSH
	SessionID string      // this session's id, as in the login entry
	Remote    string      // client address
	Commands  *Commands
	ExportDir string // where request export writes packages (config export_dir)
	// ApplianceKey is the host key's fingerprint: the one key an outsider
	// checks packages, checkpoints and receipts against.
	ApplianceKey string
}

// Commands is a set of commands by name.
type Commands struct {
	byName map[string]Command
}

// NewCommands builds a set; a later command replaces an earlier one of the
// same name, so callers can override built-ins.
func NewCommands(cmds ...Command) (*Commands, error) {
	c := &Commands{byName: map[string]Command{}}
	for _, cmd := range cmds {
		if cmd.Name == "" || strings.ContainsAny(cmd.Name, " \t\n") || cmd.Run == nil {
			return nil, fmt.Errorf("command %q: needs a one-word name and Run", cmd.Name)
		}
		c.byName[cmd.Name] = cmd
	}
	return c, nil
}

// Lookup returns the command called name.
func (c *Commands) Lookup(name string) (Command, bool) {
	cmd, ok := c.byName[name]
	return cmd, ok
}

// List returns the commands sorted by name.
func (c *Commands) List() []Command {
	out := make([]Command, 0, len(c.byName))
	for _, cmd := range c.byName {
		out = append(out, cmd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Run dispatches args (name first) and returns the exit status. A global
// "--lang ja|en" may appear anywhere.
func (c *Commands) Run(env *Env, args []string) int {
	args, lang, err := stripLang(args)
	if err != nil {
		return env.UsageError("", err.Error())
	}
	if lang != "" {
		env.Lang = lang
	}
	env.Commands = c
	if len(args) == 0 {
		c.printUsage(env, env.Stderr)
		return ExitUsage
	}
	cmd, ok := c.Lookup(args[0])
	if !ok {
		fmt.Fprintf(env.Stderr, msg(env.Lang, msgUnknownCommand)+"\n", args[0])
		c.printUsage(env, env.Stderr)
		return ExitUsage
	}
	// Forbidden first: the role is asked about before a flag is parsed.
	if action, subject := cmd.action(args[1:]); env.Core != nil {
		if _, err := env.Core.Authorize(env.Actor, action, subject); err != nil {
			return env.Fail(action, err)
		}
	}
	return cmd.Run(env, args[1:])
}

func (c *Commands) printUsage(env *Env, w io.Writer) {
	fmt.Fprintln(w, msg(env.Lang, msgCommands))
	// The usage on its line, what it does under it: a table padded every
	// summary out past the longest usage (some 240 columns).
	for _, cmd := range c.List() {
		sum := cmd.Summary
		if env.Lang == LangJA && cmd.SummaryJa != "" {
			sum = cmd.SummaryJa
		}
		fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimSpace(cmd.Name+" "+cmd.Usage), sum)
	}
}

// stripLang removes "--lang X" / "--lang=X" from args.
func stripLang(args []string) (rest []string, lang string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		var v string
		switch {
		case a == "--":
			return append(rest, args[i:]...), lang, nil
		case a == "--lang" || a == "-lang":
			if i+1 >= len(args) {
				return nil, "", errors.New("--lang needs a value (ja, en)")
			}
			i++
			v = args[i]
		case strings.HasPrefix(a, "--lang="):
			v = strings.TrimPrefix(a, "--lang=")
		default:
			rest = append(rest, a)
			continue
		}
		if lang, err = parseLang(v, ""); err != nil {
			return nil, "", err
		}
	}
	return rest, lang, nil
}

// runCommand runs sess.Command() and returns its exit status.
func (s *Server) runCommand(sess ssh.Session, info Info, sessionID string) int {
	env := &Env{
		Ctx:       sess.Context(),
		Actor:     info.Actor,
		Core:      s.o.Core,
		Stdin:     sess,
		Stdout:    sess,
		Stderr:    sess.Stderr(),
		Lang:      info.Lang,
		Location:  info.Location,
		Logger:    info.Logger,
		Now:       s.o.Now,
		Session:   sess,
		SessionID: sessionID,
		Remote:    info.Remote,
		ExportDir: s.o.ExportDir,

		ApplianceKey: s.hostFP,
	}
	args := sess.Command() // split once, by commandLineMiddleware
	if len(args) == 0 {
		return env.UsageError("", "empty command line")
	}
	return s.cmds.Run(env, args)
}

// Printf writes to stdout.
func (e *Env) Printf(format string, a ...any) { fmt.Fprintf(e.Stdout, format, a...) }

// T picks the English or Japanese text for the session's language.
func (e *Env) T(en, ja string) string { return pick(e.Lang, en, ja) }

// Fail reports err on stderr and returns ExitError. Forbidden errors read
// "forbidden: <role> may not <action>"; core has already ledgered them.
func (e *Env) Fail(action core.Action, err error) int {
	switch {
	case errors.Is(err, core.ErrForbidden):
		fmt.Fprintf(e.Stderr, msg(e.Lang, msgForbidden)+"\n", e.Actor.Role, action)
		var why *core.Refusal
		if errors.As(err, &why) {
			fmt.Fprintf(e.Stderr, "  %s\n", clean(why.Reason))
		}
	case errors.Is(err, core.ErrUnavailable):
		fmt.Fprintf(e.Stderr, msg(e.Lang, msgUnavailable)+"\n", err)
	default:
		fmt.Fprintf(e.Stderr, msg(e.Lang, msgError)+"\n", err)
	}
	return ExitError
}

// UsageError reports a command-line problem and returns ExitUsage.
func (e *Env) UsageError(cmd, problem string) int {
	if problem != "" {
		fmt.Fprintf(e.Stderr, msg(e.Lang, msgError)+"\n", problem)
	}
	if e.Commands != nil {
		if c, ok := e.Commands.Lookup(cmd); ok {
			fmt.Fprintf(e.Stderr, msg(e.Lang, msgUsage)+"\n", strings.TrimSpace(c.Name+" "+c.Usage))
		}
	}
	return ExitUsage
}

// JSON writes v as indented JSON to stdout.
func (e *Env) JSON(v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.Fail("", err)
	}
	if _, err := e.Stdout.Write(core.JSONSafe(b.Bytes())); err != nil {
		return e.Fail("", err)
	}
	return ExitOK
}

// Time formats t for people: RFC 3339 in the session's zone ("" if zero).
func (e *Env) Time(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	loc := e.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.RFC3339)
}

// jsonTime is t in UTC RFC 3339 for machine output, "" if zero.
func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
