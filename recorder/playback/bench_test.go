package playback_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"mimamori/core"
	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/playback"
	"mimamori/recorder/ring"
)

// BenchmarkMintToFirstByte6DaysBack measures, for a range recorded six
// days ago in a ring that also holds recent footage, the time from Mint
// (authorize + plan + token) to the first body byte of recording.mp4
// arriving through a forwarded-channel connection.
func BenchmarkMintToFirstByte6DaysBack(b *testing.B) {
	now := time.Date(2026, 4, 8, 9, 0, 0, 0, time.UTC)
	old := now.Add(-6 * 24 * time.Hour)
	rg, err := ring.Open(ring.Options{Dir: b.TempDir(), Capacity: 512 << 20, BlockSize: 4 << 20,
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer rg.Close()
	// 20 minutes six days back and 20 minutes now, 1 Mbit/s.
	for _, start := range []time.Time{old, now.Add(-20 * time.Minute)} {
		if _, _, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: start, Duration: 20 * time.Minute, Bitrate: 1_000_000}); err != nil {
			b.Fatal(err)
		}
	}
	fc := newFakeCore()
	go func() {
		for range fc.recorded {
		}
	}()
	pb, err := playback.New(playback.Options{Footage: rg, Core: fc, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer pb.Close()
	e := &env{pb: pb}
	hc := e.client("conn-A")
	from := old.Add(5 * time.Minute)
	g := playback.Grant{Actor: operator, SessionID: "s-1", Origin: "conn-A", View: core.ViewInput{Camera: "cam1", From: from, To: from.Add(10 * time.Minute), Reason: "bench"}}
	buf := make([]byte, 1)
	b.ResetTimer()
	for b.Loop() {
		tk, err := pb.Mint(g)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1"+tk.Files[0].Path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		resp.Body.Close()
		pb.Revoke(tk.Token)
		b.StartTimer()
	}
}
