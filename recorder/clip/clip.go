// Package clip turns a stretch of recorded fragments into playable
// fragmented MP4 files: the camera's init segment followed by the
// fragments' moof+mdat bytes. Samples are copied byte for byte; only the
// per-fragment timing boxes (mfhd, tfdt) are renumbered so each file's
// timeline starts at zero and never runs backwards.
package clip

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"mimamori/recorder/ring"
)

// Source is the recorded footage a clip is cut from. *ring.Ring satisfies it.
type Source interface {
	Fragments(camera string, from, to time.Time) ([]ring.FragmentRef, error)
	ReadFragment(ref ring.FragmentRef) ([]byte, error)
	Init(camera string, initID uint32) ([]byte, error)
}

// ErrNoFootage is returned by Plan when nothing decodable is recorded in
// the range.
var ErrNoFootage = errors.New("clip: no footage in range")

// keyframeLookback is how far before from Plan searches for the keyframe
// that the first requested frame decodes from; doubled up to maxLookback.
const (
	keyframeLookback = 30 * time.Second
	maxLookback      = 8 * time.Minute
)

// Plan returns the pieces that cover camera's [from, to): starting at the
// keyframe fragment at or before from, in recording order, split wherever
// the init segment changes (a new codec configuration needs a new file)
// and wherever time goes back (the wall clock was stepped back while
// recording: both runs of that stretch are exported, one file each).
func Plan(src Source, camera string, from, to time.Time) ([]Piece, error) {
	return plan(src, camera, from, to, false)
}

// PlanWithin is Plan for someone who may see [from, to) and nothing
// else (a temporary viewer's grant): fragments that cross either edge
// are left out instead of rounding the range outward. Footage is never
// cut inside a fragment (that would need re-encoding), so the viewer
// gets at most the granted range, starting at the first keyframe in it.
func PlanWithin(src Source, camera string, from, to time.Time) ([]Piece, error) {
	return plan(src, camera, from, to, true)
}

func plan(src Source, camera string, from, to time.Time, within bool) ([]Piece, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("clip: empty range %s..%s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	refs, err := coveringRefs(src, camera, from, to)
	if err != nil {
		return nil, err
	}
	if within {
		kept := refs[:0:0]
		for _, r := range refs {
			if !r.Start.Before(from) && !r.Start.Add(r.Duration).After(to) {
				kept = append(kept, r)
			}
		}
		refs = kept
	}
	// Recording order: after a wall clock stepped back, two runs of
	// footage share the same times and start order would interleave them.
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].Seq() < refs[j].Seq() })

	// A piece is one run decoding with one init segment, starting at a
	// keyframe: a new one begins where the init changes or time goes back
	// (a clock step); frames before a piece's first keyframe cannot be
	// decoded and are left out.
	var pieces []Piece
	inits := map[uint32][]byte{}
	var run []ring.FragmentRef
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		id := run[0].InitID
		init, ok := inits[id]
		if !ok {
			var err error
			init, err = src.Init(camera, id)
			if err != nil {
				return fmt.Errorf("clip: init segment %d of %s: %w", id, camera, err)
			}
			inits[id] = init
		}
		p, err := newPiece(src, camera, init, run)
		if err != nil {
			return err
		}
		pieces = append(pieces, p)
		run = nil
		return nil
	}
	for _, r := range refs {
		if n := len(run); n > 0 && (r.InitID != run[0].InitID || goesBack(run[n-1], r)) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if len(run) == 0 && !r.Keyframe {
			continue
		}
		run = append(run, r)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(pieces) == 0 {
		return nil, fmt.Errorf("%w: camera %s %s..%s", ErrNoFootage, camera,
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	return pieces, nil
}

// goesBack reports whether next starts more than the rounding tolerance
// before prev ends: the wall clock was stepped back between them.
func goesBack(prev, next ring.FragmentRef) bool {
	return next.Start.Before(prev.Start.Add(prev.Duration).Add(-overlapTolerance))
}

// overlapTolerance is how far a fragment may start before the previous
// one ends and still join it (rounding between the index's nanoseconds and
// the stream's ticks).
const overlapTolerance = time.Second

// coveringRefs returns the fragments overlapping [from, to) preceded by
// those back to the last keyframe at or before from.
func coveringRefs(src Source, camera string, from, to time.Time) ([]ring.FragmentRef, error) {
	for back := keyframeLookback; ; back *= 2 {
		refs, err := src.Fragments(camera, from.Add(-back), to)
		if err != nil {
			return nil, fmt.Errorf("clip: fragments of %s: %w", camera, err)
		}
		// The last fragment starting at or before from is where the
		// requested range begins.
		at := -1
		for i, r := range refs {
			if r.Start.After(from) {
				break
			}
			at = i
		}
		if at < 0 {
			// Nothing recorded before from: start with the first fragment.
			return refs, nil
		}
		for i := at; i >= 0; i-- {
			if refs[i].Keyframe {
				return refs[i:], nil
			}
		}
		// No keyframe in the window. If the window already reaches the
		// start of the recording (or the limit), decode from what exists.
		if back >= maxLookback || refs[0].Start.After(from.Add(-back).Add(time.Second)) {
			return refs[at:], nil
		}
	}
}
