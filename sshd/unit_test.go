package sshd

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
)

type limiterAllow struct{ l *keyedLimiter }

func (a limiterAllow) allow(addr net.Addr) bool { _, ok := a.l.reserve(hostOf(addr)); return ok }

func TestAddrLimiterRefillsAndIsPerHost(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	lim := newKeyedLimiter(Rate{N: 2, Per: 10 * time.Second}, 0, 0, func() time.Time { return now })
	l := limiterAllow{lim}
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1000}
	a2 := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 2000} // same host, other port
	b := &net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 1000}
	if !l.allow(a) || !l.allow(a2) {
		t.Fatal("burst of N refused")
	}
	if l.allow(a) {
		t.Fatal("N+1 within the window allowed")
	}
	if !l.allow(b) {
		t.Fatal("another host was limited too")
	}
	now = now.Add(5 * time.Second) // one token back
	if !l.allow(a) || l.allow(a) {
		t.Fatal("refill is not one token per Per/N")
	}
	now = now.Add(-time.Hour) // clock stepped back: no free tokens
	if l.allow(a) {
		t.Fatal("backwards clock minted a token")
	}
	now = now.Add(2 * time.Hour)
	l.allow(b) // triggers a prune; both buckets are full by now
	lim.mu.Lock()
	n := len(lim.buckets)
	lim.mu.Unlock()
	if n > 1 {
		t.Fatalf("%d buckets kept after they refilled", n)
	}
	off := limiterAllow{newKeyedLimiter(Rate{N: -1, Per: time.Second}, 0, 0, time.Now)}
	for i := 0; i < 100; i++ {
		if !off.allow(a) {
			t.Fatal("disabled limiter refused")
		}
	}
}

func TestTableAlignsWideText(t *testing.T) {
	tb := newTable()
	tb.row("ID", "名称", "状態")
	tb.row("cam10", "正門カメラ", "active")
	var sb strings.Builder
	tb.write(&sb)
	lines := strings.Split(strings.TrimSpace(sb.String()), "\n")
	col := func(line, field string) int { return runewidth.StringWidth(line[:strings.Index(line, field)]) }
	if col(lines[0], "状態") != col(lines[1], "active") {
		t.Fatalf("columns not aligned:\n%s", sb.String())
	}
}

func TestFlagsAndLang(t *testing.T) {
	f := NewFlags()
	j := f.Bool("json")
	from := f.String("from")
	pos, err := f.Parse([]string{"cam1", "--from=2026-01-01T00:00:00Z", "--json", "x", "--", "--not-a-flag"})
	if err != nil || !*j || *from != "2026-01-01T00:00:00Z" || strings.Join(pos, ",") != "cam1,x,--not-a-flag" {
		t.Fatalf("parse: %v %v %q %q", err, *j, *from, pos)
	}
	if _, err := NewFlags().Parse([]string{"--nope"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
	rest, lang, err := stripLang([]string{"whoami", "--lang", "ja", "--json"})
	if err != nil || lang != LangJA || strings.Join(rest, " ") != "whoami --json" {
		t.Fatalf("stripLang: %v %q %q", err, lang, rest)
	}
	if _, err := ParseTime("from", "2026-01-01 00:00"); err == nil {
		t.Fatal("non RFC 3339 time accepted")
	}
	if tm, err := ParseTime("from", "2026-01-01T09:00:00+09:00"); err != nil || tm.Location() != time.UTC || tm.Hour() != 0 {
		t.Fatalf("ParseTime: %v %v", tm, err)
	}
	if clean("a\x1b[2Jb\n") != `a\x1b[2Jb ` {
		t.Fatalf("clean kept control characters: %q", clean("a\x1b[2Jb\n"))
	}
}
