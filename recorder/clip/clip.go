// Package clip turns a stretch of recorded fragments into playable
// fragmented MP4 files: the camera's init segment followed by the
// fragments' moof+mdat bytes. Samples are copied byte for byte; only the
// per-fragment timing boxes (mfhd, tfdt) are renumbered so each file's
// timeline starts at zero and never runs backwards.
package clip

import (
	"errors"
	"fmt"
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
// keyframe fragment at or before from, split wherever the init segment
// changes (a new codec configuration needs a new file).
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
	// Frames before the first keyframe cannot be decoded: leave them out.
	first := -1
	for i, r := range refs {
		if r.Keyframe {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, fmt.Errorf("%w: camera %s %s..%s", ErrNoFootage, camera,
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	refs = refs[first:]

	var pieces []Piece
	inits := map[uint32][]byte{}
	start := 0
	for i := 1; i <= len(refs); i++ {
		if i < len(refs) && refs[i].InitID == refs[start].InitID {
			continue
		}
		id := refs[start].InitID
		init, ok := inits[id]
		if !ok {
			init, err = src.Init(camera, id)
			if err != nil {
				return nil, fmt.Errorf("clip: init segment %d of %s: %w", id, camera, err)
			}
			inits[id] = init
		}
		p, err := newPiece(src, camera, init, refs[start:i])
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, p)
		start = i
	}
	return pieces, nil
}

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
