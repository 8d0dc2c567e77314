package ingest

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestBodyChunks writes random pieces across chunk boundaries and checks
// segments, bytes and keep against a plain slice.
func TestBodyChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		var b body
		var want []byte
		for i := rng.IntN(20); i >= 0; i-- {
			p := make([]byte, rng.IntN(3*chunkSize))
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			b.write(p)
			want = append(want, p...)
		}
		if b.len() != len(want) {
			t.Fatalf("len %d, want %d", b.len(), len(want))
		}
		from := rng.IntN(len(want) + 1)
		to := from + rng.IntN(len(want)-from+1)
		var got []byte
		for _, s := range b.segments(from, to) {
			got = append(got, s...)
		}
		if !bytes.Equal(got, want[from:to]) || !bytes.Equal(b.bytes(from, to), want[from:to]) {
			t.Fatalf("trial %d: [%d,%d) differs", trial, from, to)
		}
		if trial%3 == 0 {
			from = from / chunkSize * chunkSize // the no-copy case
		}
		b.keep(from)
		if !bytes.Equal(b.bytes(0, b.len()), want[from:]) {
			t.Fatalf("trial %d: keep(%d) differs", trial, from)
		}
		if len(b.chunks) != (b.len()+chunkSize-1)/chunkSize {
			t.Fatalf("trial %d: %d chunks for %d bytes", trial, len(b.chunks), b.len())
		}
		b.reset()
	}
}
