package clip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"mimamori/recorder/ring"
)

// Piece is one playable fMP4 file: an init segment and the fragments that
// decode with it, in order. Its bytes are produced on demand from the
// Source; a Piece holds no footage in memory.
type Piece struct {
	Camera string
	InitID uint32
	Refs   []ring.FragmentRef

	src       Source
	init      []byte
	timescale uint32
	offsets   []int64  // offsets[i]: where Refs[i] begins in the file
	tfdts     []uint64 // rewritten base media decode time of Refs[i]
	size      int64
	skipped   *skipNote
}

// Gap is footage a piece leaves out: a fragment whose stored bytes are
// damaged, or one that cannot be decoded because an earlier fragment of
// its group of pictures is damaged. Its bytes in the file are a "free" box
// of the same size, which players skip, so the file stays playable and
// every other frame keeps its place.
type Gap struct {
	From, To time.Time
	Reason   string // GapDamaged or GapDependsOnDamaged
}

// Gap reasons.
const (
	GapDamaged          = "damaged"
	GapDependsOnDamaged = "depends on damaged footage"
)

// skipNote records which fragments a piece replaced, shared by the
// piece's copies (Piece is passed by value).
type skipNote struct {
	mu      sync.Mutex
	reasons map[int]string
}

func (n *skipNote) add(i int, reason string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.reasons == nil {
		n.reasons = map[int]string{}
	}
	if _, ok := n.reasons[i]; !ok || reason == GapDamaged {
		n.reasons[i] = reason
	}
	n.mu.Unlock()
}

func (n *skipNote) has(i int) bool {
	if n == nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.reasons[i]
	return ok
}

// Gaps returns the footage this piece left out so far, merged into
// intervals, in order (complete once Copy or WriteTo has returned).
func (p Piece) Gaps() []Gap {
	if p.skipped == nil {
		return nil
	}
	p.skipped.mu.Lock()
	idx := make([]int, 0, len(p.skipped.reasons))
	for i := range p.skipped.reasons {
		idx = append(idx, i)
	}
	reasons := make(map[int]string, len(idx))
	for i, r := range p.skipped.reasons {
		reasons[i] = r
	}
	p.skipped.mu.Unlock()
	sort.Ints(idx)
	var out []Gap
	for k, i := range idx {
		r := p.Refs[i]
		g := Gap{From: r.Start.UTC(), To: r.Start.Add(r.Duration).UTC(), Reason: reasons[i]}
		if n := len(out); n > 0 && k > 0 && idx[k-1] == i-1 {
			out[n-1].To = g.To
			if g.Reason == GapDamaged {
				out[n-1].Reason = GapDamaged
			}
			continue
		}
		out = append(out, g)
	}
	return out
}

// freeBox is an ISO BMFF "free" box of exactly n bytes (n ≥ 8).
func freeBox(n int64) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, uint32(n))
	copy(b[4:], "free")
	return b
}

func newPiece(src Source, camera string, init []byte, refs []ring.FragmentRef) (Piece, error) {
	p := Piece{Camera: camera, InitID: refs[0].InitID, Refs: refs, src: src, init: init,
		timescale: initTimescale(init), skipped: &skipNote{}}
	p.offsets = make([]int64, len(refs))
	p.tfdts = make([]uint64, len(refs))
	off := int64(len(init))
	for i, r := range refs {
		p.offsets[i] = off
		off += r.Length
		// The timeline follows the index's wall-clock starts, so gaps in
		// the recording stay gaps; it never runs backwards.
		t := p.ticks(r.Start.Sub(refs[0].Start))
		if i > 0 {
			if prevEnd := p.tfdts[i-1] + p.ticks(refs[i-1].Duration); t < prevEnd && prevEnd-t <= p.ticks(overlapTolerance) {
				// Rounding between the index's nanoseconds and the stream's
				// ticks; close up rather than overlap.
				t = prevEnd
			} else if t < prevEnd {
				return Piece{}, fmt.Errorf("clip: %s fragment at %s overlaps the previous one", camera, r.Start.Format(time.RFC3339Nano))
			}
		}
		p.tfdts[i] = t
	}
	p.size = off
	return p, nil
}

func (p Piece) ticks(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	ts := uint64(p.timescale)
	return uint64(d/time.Second)*ts + uint64(d%time.Second)*ts/uint64(time.Second)
}

// Size is the length of the file in bytes.
func (p Piece) Size() int64 { return p.size }

// Start is the wall-clock time of the first frame (a keyframe).
func (p Piece) Start() time.Time { return p.Refs[0].Start }

// End is when the last fragment ends.
func (p Piece) End() time.Time {
	last := p.Refs[len(p.Refs)-1]
	return last.Start.Add(last.Duration)
}

// InitSegment returns the init segment (ftyp+moov) bytes. Do not modify.
func (p Piece) InitSegment() []byte { return p.init }

// fragment reads fragment i (the ring verifies it) and renumbers its
// timing boxes for this file. A damaged fragment becomes a free box of the
// same size and is noted as a gap; any other read error fails.
func (p Piece) fragment(i int) ([]byte, error) {
	b, err := p.src.ReadFragment(p.Refs[i])
	if errors.Is(err, ring.ErrDamaged) {
		p.skipped.add(i, GapDamaged)
		return freeBox(p.Refs[i].Length), nil
	}
	if err != nil {
		return nil, fmt.Errorf("clip: %s fragment at %s: %w", p.Camera, p.Refs[i].Start.Format(time.RFC3339Nano), err)
	}
	if int64(len(b)) != p.Refs[i].Length {
		return nil, fmt.Errorf("clip: %s fragment at %s: %d bytes, index says %d", p.Camera,
			p.Refs[i].Start.Format(time.RFC3339Nano), len(b), p.Refs[i].Length)
	}
	if err := retime(b, uint32(i+1), p.tfdts[i]); err != nil {
		return nil, fmt.Errorf("clip: %s fragment at %s: %w", p.Camera, p.Refs[i].Start.Format(time.RFC3339Nano), err)
	}
	return b, nil
}

// WriteTo streams the file to w.
func (p Piece) WriteTo(w io.Writer) (int64, error) {
	return p.Copy(context.Background(), w, nil)
}

// Copy streams the file to w, stopping when ctx is done. progress, if
// set, is called with the byte count of each chunk written. The next
// fragments are read (and their SHA-256 checked) while the current one is
// written, so reading and the writer's work overlap.
func (p Piece) Copy(ctx context.Context, w io.Writer, progress func(n int64)) (int64, error) {
	n, err := w.Write(p.init)
	total := int64(n)
	if err != nil {
		return total, err
	}
	if progress != nil {
		progress(int64(n))
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: no reader outlives Copy
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Fragments are read by a few workers and delivered in order through
	// a queue of one-shot channels; reading and verifying (pread, CRC,
	// SHA-256) is the expensive part of an export.
	type read struct {
		b   []byte
		err error
	}
	queue := make(chan chan read, prefetch)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(queue)
		sem := make(chan struct{}, readers())
		for i := range p.Refs {
			fut := make(chan read, 1)
			select {
			case queue <- fut:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := p.fragment(i)
				<-sem
				fut <- read{b, err}
			}()
		}
	}()
	gopDamaged := false // a fragment of the current GOP was damaged
	for i := range p.Refs {
		// Checked first: select picks at random among ready cases, so a
		// cancellation would otherwise lose to an already read fragment.
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var fut chan read
		var ok bool
		select {
		case fut, ok = <-queue:
		case <-ctx.Done():
			return total, ctx.Err()
		}
		if !ok {
			return total, ctx.Err()
		}
		var r read
		select {
		case r = <-fut:
		case <-ctx.Done():
			return total, ctx.Err()
		}
		if r.err != nil {
			return total, r.err
		}
		if p.Refs[i].Keyframe {
			gopDamaged = false
		}
		switch {
		case p.skipped.has(i):
			gopDamaged = true
		case gopDamaged:
			// Its frames refer to frames of the damaged fragment.
			p.skipped.add(i, GapDependsOnDamaged)
			r.b = freeBox(p.Refs[i].Length)
		}
		n, err := w.Write(r.b)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if progress != nil {
			progress(int64(n))
		}
	}
	return total, nil
}

// prefetch is how many fragments Copy reads ahead (about 4 s of a 4 Mbit/s
// camera with one-second fragments).
const prefetch = 8

// readers is how many fragments are read at once.
func readers() int { return min(max(runtime.GOMAXPROCS(0), 1), 4) }

// ReaderAt returns random access to the file's bytes (for HTTP range
// requests: io.NewSectionReader(p.ReaderAt(), 0, p.Size())). It keeps the
// last fragment read, so sequential small reads cost one ring read per
// fragment. Safe for concurrent use.
func (p Piece) ReaderAt() io.ReaderAt { return &pieceReader{p: p, cached: -1} }

// NewReader returns a seekable reader over the file's bytes.
func (p Piece) NewReader() io.ReadSeeker { return io.NewSectionReader(p.ReaderAt(), 0, p.size) }

type pieceReader struct {
	p      Piece
	mu     sync.Mutex
	cached int
	buf    []byte
}

func (r *pieceReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("clip: negative offset %d", off)
	}
	n := 0
	for n < len(b) {
		pos := off + int64(n)
		if pos >= r.p.size {
			return n, io.EOF
		}
		if pos < int64(len(r.p.init)) {
			n += copy(b[n:], r.p.init[pos:])
			continue
		}
		i := sort.Search(len(r.p.offsets), func(i int) bool { return r.p.offsets[i] > pos }) - 1
		frag, err := r.frag(i)
		if err != nil {
			return n, err
		}
		n += copy(b[n:], frag[pos-r.p.offsets[i]:])
	}
	return n, nil
}

func (r *pieceReader) frag(i int) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cached == i {
		return r.buf, nil
	}
	b, err := r.p.fragment(i)
	if err != nil {
		return nil, err
	}
	// Random access: skip the fragment if an earlier one of its GOP is
	// known to be damaged (a sequential reader, as players are, knows).
	skip := r.p.skipped.has(i)
	for j := i - 1; !skip && j >= 0 && !r.p.Refs[j+1].Keyframe; j-- {
		if r.p.skipped.has(j) {
			r.p.skipped.add(i, GapDependsOnDamaged)
			skip = true
		}
	}
	if skip {
		b = freeBox(r.p.Refs[i].Length)
	}
	r.cached, r.buf = i, b
	return b, nil
}
