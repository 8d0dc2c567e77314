package ingest

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// The hand-written head plus the sample bytes must equal what
// mediacommon's Part.Marshal writes, byte for byte.
func TestFragmentHeadMatchesMediacommon(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for iter := range 2000 {
		n := 1 + rng.IntN(60)
		if iter%10 == 0 {
			n = 1
		}
		var body []byte
		var hs []headSample
		var ss []*fmp4.Sample
		mode := iter % 4 // 0: all sync, no cto; 1: mixed; 2: cto only; 3: random
		for i := range n {
			p := make([]byte, rng.IntN(3000))
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			s := &fmp4.Sample{Duration: rng.Uint32N(200000), Payload: p}
			switch mode {
			case 1:
				s.IsNonSyncSample = i > 0
			case 2:
				s.PTSOffset = int32(rng.IntN(20000)) - 5000
			case 3:
				s.IsNonSyncSample = rng.IntN(2) == 0
				if rng.IntN(2) == 0 {
					s.PTSOffset = int32(rng.Uint32())
				}
			}
			ss = append(ss, s)
			hs = append(hs, headSample{dur: s.Duration, size: uint32(len(p)), cto: s.PTSOffset, sync: !s.IsNonSyncSample})
			body = append(body, p...)
		}
		seq, base := rng.Uint32(), rng.Uint64()
		part := fmp4.Part{SequenceNumber: seq, Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: base, Samples: ss}}}
		var want seekablebuffer.Buffer
		if err := part.Marshal(&want); err != nil {
			t.Fatal(err)
		}
		got := append(appendFragmentHead(nil, seq, 1, base, hs, len(body)), body...)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("iteration %d (%d samples, mode %d): head differs from Part.Marshal\n got %x\nwant %x",
				iter, n, mode, got[:min(len(got), 200)], want.Bytes()[:min(want.Len(), 200)])
		}
	}
}
