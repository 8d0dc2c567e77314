package sshd

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Flags is a small GNU-style parser for script commands: "--name value",
// "--name=value" and boolean "--name", anywhere among positional
// arguments. "--" ends the flags. (The standard flag package stops at the
// first positional, and commands here put the camera first.)
type Flags struct {
	bools map[string]*bool
	strs  map[string]*string
	set   map[string]bool
}

// NewFlags returns an empty set.
func NewFlags() *Flags {
	return &Flags{bools: map[string]*bool{}, strs: map[string]*string{}, set: map[string]bool{}}
}

// Bool defines a boolean flag.
func (f *Flags) Bool(name string) *bool {
	b := new(bool)
	f.bools[name] = b
	return b
}

// String defines a flag with a value.
func (f *Flags) String(name string) *string {
	s := new(string)
	f.strs[name] = s
	return s
}

// IsSet reports whether the flag appeared on the command line.
func (f *Flags) IsSet(name string) bool { return f.set[name] }

// Parse fills the flags and returns the positional arguments.
func (f *Flags) Parse(args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, v, true
		}
		if b, ok := f.bools[name]; ok {
			if hasVal {
				v, err := strconv.ParseBool(val)
				if err != nil {
					return nil, fmt.Errorf("--%s: not a boolean: %q", name, val)
				}
				*b = v
			} else {
				*b = true
			}
			f.set[name] = true
			continue
		}
		s, ok := f.strs[name]
		if !ok {
			return nil, fmt.Errorf("unknown flag %s", a)
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("--%s needs a value", name)
			}
			i++
			val = args[i]
		}
		*s = val
		f.set[name] = true
	}
	return pos, nil
}

// ParseTime parses an RFC 3339 time given for flag name.
func ParseTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s: not an RFC 3339 time (e.g. 2026-01-02T15:04:05+09:00): %q", name, v)
	}
	return t.UTC(), nil
}
