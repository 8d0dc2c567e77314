package appliance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mimamori/core"
	"mimamori/keys"
)

// lockedBuffer is a log sink the test reads while the logger writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// checkpointLines are the "ledger checkpoint" records logged so far.
func (l *lockedBuffer) checkpointLines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "ledger checkpoint" {
			out = append(out, rec)
		}
	}
	return out
}

// The signed checkpoint leaves the box in the log: one line at start and
// one a day (the day is the test's clock), each a checkpoint an outsider
// verifies against the host key alone, of the ledger as it then was.
func TestSignedCheckpointLoggedAtStartAndDaily(t *testing.T) {
	dir := t.TempDir()
	st, err := core.Open(filepath.Join(dir, "mimamori.db"), core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	host, _, _, err := keys.LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetLogSigner("test-appliance", host); err != nil {
		t.Fatal(err)
	}

	// The test's clock: each wait is announced, and ends when the test
	// says a day has passed.
	waits := make(chan time.Duration)
	days := make(chan time.Time)
	after := func(d time.Duration) <-chan time.Time {
		waits <- d
		return days
	}
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); logCheckpoints(ctx, st, log, after) }()

	check := func(day int) {
		t.Helper()
		if d := <-waits; d != 24*time.Hour {
			t.Fatalf("day %d: waits %v for the next line, want 24h", day, d)
		}
		lines := logs.checkpointLines(t)
		if len(lines) != day+1 {
			t.Fatalf("day %d: %d checkpoint lines, want %d (one at start, one a day)", day, len(lines), day+1)
		}
		rec := lines[day]
		if rec["level"] != "INFO" {
			t.Errorf("day %d: level %v, want INFO", day, rec["level"])
		}
		cp, err := core.ParseCheckpoint([]byte(rec["note"].(string)), host.PublicKey())
		if err != nil {
			t.Fatalf("day %d: the logged note does not verify with the host key: %v", day, err)
		}
		head := st.LedgerHead()
		if cp.Size != head || uint64(rec["size"].(float64)) != head ||
			rec["root"] != base64.StdEncoding.EncodeToString(cp.Root[:]) {
			t.Errorf("day %d: size %v root %v, note size %d; ledger head %d", day, rec["size"], rec["root"], cp.Size, head)
		}
	}
	check(0)
	for day := 1; day <= 2; day++ {
		// The ledger grows between the lines.
		if _, err := st.EnrollKey(core.SystemActor("test"), "sousa"+string(rune('0'+day)), core.RoleOperator, enrolLine(t)); err != nil {
			t.Fatal(err)
		}
		days <- time.Now()
		check(day)
	}
	cancel()
	<-done
}

func enrolLine(t *testing.T) string {
	t.Helper()
	line, err := keys.GenerateUserKey(filepath.Join(t.TempDir(), "id"))
	if err != nil {
		t.Fatal(err)
	}
	return line
}
