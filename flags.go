package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// cli is a subcommand's flag set plus the text around its flags.
type cli struct {
	fs       *flag.FlagSet
	name     string // e.g. "keys add"
	synopsis string // after "Usage: mimamori "
	about    string // paragraph after the synopsis
	meta     map[string]string
}

// str defines a string flag whose value is shown as META in the usage.
func (c *cli) str(name, def, meta, help string) *string {
	c.meta[name] = meta
	return c.fs.String(name, def, help)
}

// int defines an int flag whose value is shown as META in the usage.
func (c *cli) int(name string, def int, meta, help string) *int {
	c.meta[name] = meta
	return c.fs.Int(name, def, help)
}

// strs defines a repeatable string flag (each use adds one value).
func (c *cli) strs(name, meta, help string) *[]string {
	c.meta[name] = meta
	var v repeated
	c.fs.Var(&v, name, help)
	return (*[]string)(&v)
}

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func newCLI(name, synopsis, about string) *cli {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // we print usage ourselves, to the right stream
	fs.Usage = func() {}
	return &cli{fs: fs, name: name, synopsis: synopsis, about: about, meta: map[string]string{}}
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: mimamori %s\n\n", c.synopsis)
	if c.about != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(c.about))
	}
	has := false
	c.fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "Flags:")
		c.fs.VisitAll(func(f *flag.Flag) {
			help := f.Usage
			head := "  --" + f.Name
			if m := c.meta[f.Name]; m != "" {
				head += " " + m
			}
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				help += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "%-24s %s\n", head, help)
		})
	}
}

// parse parses flags anywhere among the arguments (flag alone stops at the
// first positional one) and returns the positional arguments. done is true
// when the caller should return code at once (help or a usage error).
func (c *cli) parse(args []string, stdout, stderr io.Writer) (pos []string, code int, done bool) {
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.usage(stdout)
				return nil, 0, true
			}
			fmt.Fprintf(stderr, "mimamori %s: %v\n\n", c.name, err)
			c.usage(stderr)
			return nil, 2, true
		}
		rest := c.fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, false
		}
		if len(rest) == 0 {
			return pos, 0, false
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError reports a wrong invocation: message, usage, exit 2.
func (c *cli) usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "mimamori %s: %s\n\n", c.name, fmt.Sprintf(format, a...))
	c.usage(stderr)
	return 2
}

// fail reports an error during the command: message, exit 1.
func (c *cli) fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "mimamori %s: %v\n", c.name, err)
	return 1
}

// subcommand splits "keys add …" style invocations. With no or an unknown
// sub-subcommand it prints the group's usage.
func subcommand(group string, subs map[string]string, args []string, stdout, stderr io.Writer) (sub string, rest []string, code int, done bool) {
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage:\n")
		for _, s := range sortedKeys(subs) {
			fmt.Fprintf(w, "  mimamori %s %s\n", group, subs[s])
		}
		fmt.Fprintf(w, "\nRun 'mimamori %s COMMAND --help' for its flags.\n", group)
	}
	if len(args) == 0 {
		fmt.Fprintf(stderr, "mimamori %s: missing command\n\n", group)
		groupUsage(stderr)
		return "", nil, 2, true
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		groupUsage(stdout)
		return "", nil, 0, true
	}
	if _, ok := subs[args[0]]; !ok {
		fmt.Fprintf(stderr, "mimamori %s: unknown command %q\n\n", group, args[0])
		groupUsage(stderr)
		return "", nil, 2, true
	}
	return args[0], args[1:], 0, false
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
