package sshd

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"mimamori/core"
)

// table aligns columns by display width, so Japanese text lines up
// (text/tabwriter counts runes, not terminal cells).
type table struct {
	rows [][]string
}

func newTable() *table { return &table{} }

func (t *table) row(cols ...string) { t.rows = append(t.rows, cols) }

func (t *table) write(w io.Writer) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if n := runewidth.StringWidth(c); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		b.Reset()
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// clean makes a stored string safe to print on one line: core's one
// sanitiser (a camera name must not move the operator's cursor, nor an
// old ledger entry turn the manager's terminal around).
func clean(s string) string { return core.CleanLine(s, 0) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return clean(s)
}

// kv renders details as sorted key=value pairs.
func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, clean(k)+"="+clean(m[k]))
	}
	return strings.Join(parts, " ")
}

// kvLang is kv with the codes core wrote itself in lang (core.DetailText).
func kvLang(m map[string]string, lang string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, clean(k)+"="+clean(core.DetailText(k, m[k], lang)))
	}
	return strings.Join(parts, " ")
}

// actionLabel is a ledger action for people: its label in the session's
// language, with the code (for filters and scripts) after it.
func actionLabel(env *Env, a core.Action) string {
	return core.ActionLabel(a, env.Lang) + " (" + string(a) + ")"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		return fmt.Sprintf("%dd%s", days, strings.TrimSuffix(d.String(), "0s"))
	}
	return d.String()
}
