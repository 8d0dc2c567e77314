package playback_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"mimamori/recorder"
	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/playback"
	"mimamori/recorder/ring"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// A client guessing tokens through its forward gets 403s; the log gets
// one line for the first and one with the count (per minute; here at
// Close), not a line per guess.
func TestGuessedTokensLogFewLines(t *testing.T) {
	rg, err := ring.Open(ring.Options{Dir: t.TempDir(), Capacity: 64 << 20, BlockSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	e := &env{rg: rg, core: newFakeCore(), clk: &clock{t: t0.Add(time.Hour)}, live: recorder.NewLive()}
	e.pb, err = playback.New(playback.Options{Footage: rg, Live: e.live, Core: e.core, Now: e.clk.Now, MaxTTL: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	c := e.client("conn-A")
	for i := range n {
		path := "/v/" + strings.Repeat(string(rune('A'+i%26)), 43) + "/recording.mp4"
		if code, _, _ := get(t, c, path); code != http.StatusForbidden {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	count := func() int { return strings.Count(logs.String(), `msg="request refused: unknown or ended token"`) }
	if got := count(); got != 1 {
		t.Fatalf("%d log lines for %d refused guesses, want 1 so far", got, n)
	}
	e.pb.Close()
	if got := count(); got != 2 || !strings.Contains(logs.String(), "count=199") {
		t.Fatalf("%d log lines after Close, want the first and one with count=199:\n%s", got, logs.String())
	}
}
