package ingest

import "sync"

// A camera buffers the samples of the fragment it is cutting (up to a
// second of video: 500 KB at 4 Mbit/s) until the fragment is written. One
// growing slice per camera would keep its largest fragment's capacity
// forever, and 64 of those were most of the appliance's memory. A body is
// instead a list of fixed chunks from one pool shared by every camera: a
// camera holds what it buffers now, rounded up to a chunk, and returns
// the chunks when the fragment is written.

// chunkSize is the unit of buffered sample bytes: a 1 s fragment at
// 4 Mbit/s is 8 chunks.
const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, 0, chunkSize)
	return &b
}}

// body is the sample bytes of one fragment in chunks; offsets count from
// the first byte of the first chunk.
type body struct {
	chunks []*[]byte
	n      int
	segs   [][]byte // scratch for segments
}

func (b *body) len() int { return b.n }

// write appends p.
func (b *body) write(p []byte) {
	for len(p) > 0 {
		if len(b.chunks) == 0 || len(*b.chunks[len(b.chunks)-1]) == chunkSize {
			b.chunks = append(b.chunks, chunkPool.Get().(*[]byte))
		}
		c := b.chunks[len(b.chunks)-1]
		k := min(len(p), chunkSize-len(*c))
		*c = append(*c, p[:k]...)
		p = p[k:]
		b.n += k
	}
}

// appendAVCC appends au in AVCC form (4-byte big-endian lengths); H.265
// samples use the same layout.
func (b *body) appendAVCC(au [][]byte) {
	for _, n := range au {
		l := len(n)
		b.write([]byte{byte(l >> 24), byte(l >> 16), byte(l >> 8), byte(l)})
		b.write(n)
	}
}

// segments returns the bytes [from, to) as pieces of the chunks (valid
// until the body changes).
func (b *body) segments(from, to int) [][]byte {
	b.segs = b.segs[:0]
	for i, c := range b.chunks {
		lo, hi := i*chunkSize, i*chunkSize+len(*c)
		if hi <= from || lo >= to {
			continue
		}
		b.segs = append(b.segs, (*c)[max(from, lo)-lo:min(to, hi)-lo])
	}
	return b.segs
}

// bytes copies [from, to) into one slice.
func (b *body) bytes(from, to int) []byte {
	out := make([]byte, 0, to-from)
	for _, s := range b.segments(from, to) {
		out = append(out, s...)
	}
	return out
}

// keep drops everything but [from, b.len()), which moves to offset 0;
// the chunks no longer needed go back to the pool.
func (b *body) keep(from int) {
	if from == b.n {
		b.reset()
		return
	}
	if from%chunkSize == 0 {
		// The kept bytes start a chunk: no copy.
		k := from / chunkSize
		for _, c := range b.chunks[:k] {
			release(c)
		}
		b.chunks = append(b.chunks[:0], b.chunks[k:]...)
		b.n -= from
		return
	}
	var nb body
	for _, s := range b.segments(from, b.n) {
		nb.write(s)
	}
	b.reset()
	b.chunks, b.n = append(b.chunks[:0], nb.chunks...), nb.n
}

// reset returns every chunk to the pool.
func (b *body) reset() {
	for _, c := range b.chunks {
		release(c)
	}
	clear(b.chunks)
	b.chunks = b.chunks[:0]
	b.n = 0
}

func release(c *[]byte) {
	*c = (*c)[:0]
	chunkPool.Put(c)
}
