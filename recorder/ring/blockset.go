package ring

import "math/bits"

// blockSet is a set of block numbers with the lowest member at or after
// any block found in O(log₆₄ n): a bitmap, and above it bitmaps of which
// words below are non-zero, up to a single word. At 5.3 million blocks it
// is 670 KiB and finding the next member reads at most 4 words per level.
// Not safe for concurrent use (the ring guards it with r.mu).
type blockSet struct {
	levels [][]uint64 // levels[0]: the members; levels[i+1] bit j: levels[i][j] != 0
	n      int
}

func newBlockSet(nblocks int) *blockSet {
	s := &blockSet{}
	for size := max(nblocks, 1); ; size = (size + 63) / 64 {
		s.levels = append(s.levels, make([]uint64, (size+63)/64))
		if size <= 64 {
			return s
		}
	}
}

func (s *blockSet) len() int { return s.n }

func (s *blockSet) has(b uint32) bool {
	w := int(b >> 6)
	return w < len(s.levels[0]) && s.levels[0][w]&(1<<(b&63)) != 0
}

// add inserts b; it reports whether b was not a member.
func (s *blockSet) add(b uint32) bool {
	i := int(b)
	for l := range s.levels {
		w := &s.levels[l][i>>6]
		was := *w
		*w |= 1 << (uint(i) & 63)
		if l == 0 {
			if was == *w {
				return false
			}
			s.n++
		}
		if was != 0 {
			return true // the levels above already know this word
		}
		i >>= 6
	}
	return true
}

// remove deletes b; it reports whether b was a member.
func (s *blockSet) remove(b uint32) bool {
	i := int(b)
	for l := range s.levels {
		w := &s.levels[l][i>>6]
		was := *w
		*w &^= 1 << (uint(i) & 63)
		if l == 0 {
			if was == *w {
				return false
			}
			s.n--
		}
		if *w != 0 {
			return true
		}
		i >>= 6
	}
	return true
}

// next returns the lowest member ≥ from.
func (s *blockSet) next(from uint32) (uint32, bool) {
	i := s.nextAt(0, int(from))
	return uint32(i), i >= 0
}

func (s *blockSet) nextAt(l, from int) int {
	words := s.levels[l]
	w := from >> 6
	if w >= len(words) {
		return -1
	}
	if x := words[w] & (^uint64(0) << (uint(from) & 63)); x != 0 {
		return w<<6 + bits.TrailingZeros64(x)
	}
	if l+1 == len(s.levels) {
		return -1 // the top level is one word
	}
	j := s.nextAt(l+1, w+1)
	if j < 0 {
		return -1
	}
	return j<<6 + bits.TrailingZeros64(words[j])
}
