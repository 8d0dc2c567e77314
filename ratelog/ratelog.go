// Package ratelog coalesces repeated log lines. A hostile client, a
// scanner or a broken peer can cause the same refusal thousands of times
// a minute; the ledger coalesces them (core), and so must the log: the
// first line of a kind is written at once, repeats are counted, and while
// they go on one line per interval says how many there were.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger writes the first line of each kind (its message) at once. Later
// lines of that kind within the interval are only counted; when the
// interval ends, one line with the message, "count" (how many were not
// written) and the last one's attributes is written, and a new interval
// begins. An interval with no repeat ends the kind: its next line is
// written at once again. So a flood writes two lines, then one per
// interval, whatever its rate. Kinds are the callers' constant messages,
// so their number is bounded by the code.
type Logger struct {
	log      *slog.Logger
	interval time.Duration

	mu     sync.Mutex
	kinds  map[string]*kind
	closed bool
}

type kind struct {
	level slog.Level
	count int
	last  []any // attributes of the last line counted
	timer *time.Timer
}

// New coalesces lines written through it to log, per interval.
func New(log *slog.Logger, interval time.Duration) *Logger {
	return &Logger{log: log, interval: interval, kinds: map[string]*kind{}}
}

// Log writes msg with args at level, or counts it if a line with the same
// message was written within the interval.
func (l *Logger) Log(level slog.Level, msg string, args ...any) {
	l.mu.Lock()
	if k := l.kinds[msg]; k != nil {
		k.count++
		k.level, k.last = max(k.level, level), args
		l.mu.Unlock()
		return
	}
	if !l.closed {
		k := &kind{level: level}
		k.timer = time.AfterFunc(l.interval, func() { l.end(msg) })
		l.kinds[msg] = k
	}
	l.mu.Unlock()
	l.log.Log(context.Background(), level, msg, args...)
}

// Info and Warn are Log at those levels.
func (l *Logger) Info(msg string, args ...any) { l.Log(slog.LevelInfo, msg, args...) }
func (l *Logger) Warn(msg string, args ...any) { l.Log(slog.LevelWarn, msg, args...) }

// end closes msg's interval: the count, if any, is written and a new
// interval begins; otherwise the kind is forgotten.
func (l *Logger) end(msg string) {
	l.mu.Lock()
	k := l.kinds[msg]
	if k == nil {
		l.mu.Unlock()
		return
	}
	if k.count == 0 || l.closed {
		delete(l.kinds, msg)
		l.mu.Unlock()
		return
	}
	n, level, args := k.count, k.level, k.last
	k.count, k.last = 0, nil
	k.timer.Reset(l.interval)
	l.mu.Unlock()
	l.write(level, msg, n, args)
}

func (l *Logger) write(level slog.Level, msg string, n int, args []any) {
	l.log.Log(context.Background(), level, msg, append([]any{"count", n, "within", l.interval.String()}, args...)...)
}

// Close writes the counts still pending and stops the timers; lines
// logged after Close are written as they come.
func (l *Logger) Close() {
	l.mu.Lock()
	l.closed = true
	type pending struct {
		msg   string
		level slog.Level
		n     int
		args  []any
	}
	var ps []pending
	for msg, k := range l.kinds {
		k.timer.Stop()
		if k.count > 0 {
			ps = append(ps, pending{msg, k.level, k.count, k.last})
		}
	}
	clear(l.kinds)
	l.mu.Unlock()
	for _, p := range ps {
		l.write(p.level, p.msg, p.n, p.args)
	}
}
