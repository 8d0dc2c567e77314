package export_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mimamori/recorder/clip/cliptest"
	"mimamori/recorder/export"
	"mimamori/recorder/ring"
)

// BenchmarkExport4Mbps exports one 4 Mbit/s camera's long range (10 min by
// default; MIMAMORI_BENCH_MINUTES=60 for an hour, about 1.8 GB), signed
// and encrypted with age's default scrypt work factor, and reports MB/s of
// footage. ringread-MB/s is a plain 4 MiB-block sequential read of the
// ring file (what `dd bs=4M` does), measured warm right after, for
// comparison. Page cache is warm for both: dropping caches needs root.
func BenchmarkExport4Mbps(b *testing.B) {
	minutes := 10
	if v, err := strconv.Atoi(os.Getenv("MIMAMORI_BENCH_MINUTES")); err == nil && v > 0 {
		minutes = v
	}
	d := time.Duration(minutes) * time.Minute
	dir := os.Getenv("MIMAMORI_BENCH_DIR") // keep the ring for a dd comparison
	if dir == "" {
		dir = b.TempDir()
	}
	const bitrate = 4_000_000
	capacity := (int64(bitrate/8*d.Seconds())*11/10 + 64<<20) &^ (4<<20 - 1)
	rg, err := ring.Open(ring.Options{Dir: filepath.Join(dir, "ring"), Capacity: capacity})
	if err != nil {
		b.Fatal(err)
	}
	defer rg.Close()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if refs, _ := rg.Fragments("cam1", t0, t0.Add(d)); len(refs) == 0 {
		start := time.Now()
		_, n, err := cliptest.Fill(rg, cliptest.Options{Camera: "cam1", Start: t0, Duration: d, Bitrate: bitrate, SyncEvery: 256})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %d MB in %v", n>>20, time.Since(start).Round(time.Millisecond))
	}
	signer := newSigner(b)
	var bytes int64
	b.Run("x25519", func(b *testing.B) {
		ex := &export.Exporter{Source: rg, Signer: signer}
		out := b.TempDir()
		j := job(out, "cam1")
		j.From, j.To = t0, t0.Add(d)
		j.Request.From, j.Request.To = j.From, j.To
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rec, err := ex.Export(context.Background(), j, nil)
			if err != nil {
				b.Fatal(err)
			}
			bytes = rec.Files[0].Bytes
			b.StopTimer()
			os.Remove(rec.Path)
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(bytes)/1e6, "MB/export")
	})

	// The same number of bytes read straight off the ring file in 4 MiB
	// blocks (what dd bs=4M does), warm.
	b.Run("ringread-4MiB", func(b *testing.B) {
		f, err := os.Open(filepath.Join(dir, "ring", "ring.dat"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 4<<20)
		b.SetBytes(bytes)
		for i := 0; i < b.N; i++ {
			if _, err := io.CopyBuffer(io.Discard, io.LimitReader(onlyReader{io.NewSectionReader(f, 0, bytes)}, bytes), buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// onlyReader hides WriterTo/ReaderFrom so CopyBuffer really uses buf.
type onlyReader struct{ io.Reader }
