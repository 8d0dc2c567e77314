package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// lines records what reaches the handler.
type lines struct {
	mu  sync.Mutex
	got []slog.Record
}

func (h *lines) Enabled(context.Context, slog.Level) bool { return true }
func (h *lines) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.got = append(h.got, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *lines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lines) WithGroup(string) slog.Handler      { return h }

func (h *lines) records() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.got...)
}

func attr(r slog.Record, key string) (slog.Value, bool) {
	var v slog.Value
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v, found = a.Value, true
		}
		return true
	})
	return v, found
}

// A flood of N lines of one kind writes one line at once and one with the
// count when the interval ends — however large N.
func TestFloodWritesOneLinePerInterval(t *testing.T) {
	h := &lines{}
	l := New(slog.New(h), time.Hour) // intervals end by hand below
	for i := range 10000 {
		l.Warn("connection refused: rate limit", "remote", "10.0.0.1:"+string(rune('0'+i%10)))
	}
	l.Info("auth refused: key not enrolled", "fingerprint", "SHA256:x")
	if got := h.records(); len(got) != 2 {
		t.Fatalf("%d lines for 10,001 events of two kinds, want 2", len(got))
	}
	l.end("connection refused: rate limit") // the interval ends
	got := h.records()
	if len(got) != 3 {
		t.Fatalf("%d lines after the interval, want 3", len(got))
	}
	if n, _ := attr(got[2], "count"); got[2].Message != "connection refused: rate limit" || n.Int64() != 9999 ||
		got[2].Level != slog.LevelWarn {
		t.Fatalf("count line %q %v count=%v", got[2].Message, got[2].Level, n)
	}
	if r, ok := attr(got[2], "remote"); !ok || r.String() != "10.0.0.1:9" {
		t.Fatalf("the count line carries the last line's attributes: %v", r)
	}
	// Still going: counted into the next interval, one line for it.
	for range 500 {
		l.Warn("connection refused: rate limit", "remote", "10.0.0.2:1")
	}
	l.end("connection refused: rate limit")
	if got := h.records(); len(got) != 4 {
		t.Fatalf("%d lines after two intervals of flood, want 4", len(got))
	} else if n, _ := attr(got[3], "count"); n.Int64() != 500 {
		t.Fatalf("second interval's count %v, want 500", n)
	}
	// A quiet interval ends the kind: the next line is written at once.
	l.end("connection refused: rate limit")
	l.Warn("connection refused: rate limit", "remote", "10.0.0.3:1")
	if got := h.records(); len(got) != 5 {
		t.Fatalf("%d lines, want the first line after a quiet interval written at once", len(got))
	}
	// Close writes what is pending.
	l.Info("auth refused: key not enrolled", "fingerprint", "SHA256:y")
	l.Close()
	got = h.records()
	if len(got) != 6 || got[5].Message != "auth refused: key not enrolled" {
		t.Fatalf("after Close: %d lines", len(got))
	}
	if n, _ := attr(got[5], "count"); n.Int64() != 1 {
		t.Fatalf("pending count at Close %v, want 1", n)
	}
}

// Each attribute appears once in a count line.
func TestCountLineAttributesOnce(t *testing.T) {
	h := &lines{}
	l := New(slog.New(h), time.Hour)
	l.Warn("x", "remote", "a")
	l.Warn("x", "remote", "b")
	l.Close()
	seen := map[string]int{}
	h.records()[1].Attrs(func(a slog.Attr) bool { seen[a.Key]++; return true })
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("attribute %s %d times", k, n)
		}
	}
}
