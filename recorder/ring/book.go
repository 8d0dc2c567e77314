package ring

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/google/btree"
	bolt "go.etcd.io/bbolt"

	"mimamori/core"
)

// The ring's bookkeeping. A 20 TB ring has 5.3 million blocks, and every
// append of every camera takes r.mu, so nothing on a hot or periodic path
// walks the block table. What the paths ask is kept incrementally, in
// structures updated as a block changes state (bookAdd and bookRemove are
// each other's inverse, called around every change by setMetaLocked):
//
//   - free: the free blocks, a bitmap with O(log₆₄ n) lowest-member
//     search; avail: those of them in the durable lease (below), which is
//     where an append takes its block from (the lowest);
//   - erasing: the blocks in state erasing (retried by the sweep);
//   - order: the sealed blocks no applied hold covers, in the order
//     erasure takes them (ring time of the last append, then footage
//     end, then block number): overwriting takes the first, retention
//     pops from the front while expired;
//   - per camera, tree: its blocks with footage (open, sealed, or chosen
//     for erasure but not yet marked), by footage start, so a hold's
//     range finds its blocks without a scan and Usages its oldest; bytes
//     (open and sealed), initRefs (blocks referencing each init
//     segment, instead of a walk to find unreferenced ones);
//   - counters: used bytes, held blocks, blocks whose key is missing.
//
// The trees hold block numbers (4 bytes) and compare through the block
// table, so a block's keys (lastE, last; first) must not change while it
// is in them: a sealed block's never do, an open block's first is set
// once, and a reboot's downtime is credited on read (effE), not by
// rewriting lastE. Every method here: caller holds r.mu.

// btreeDegree: 63 block numbers a node, about 7 bytes per block.
const btreeDegree = 32

// probe is the block number the camera trees read as footage start
// r.probeFirst, to search them by time.
const probe = ^uint32(0)

// holdSpan is a hold's footage range, unix ns [from, to).
type holdSpan struct{ from, to int64 }

type holdIdent struct {
	cam string
	holdSpan
}

// creditEntry is a reboot's downtime credited to what ring time stamped
// up to bootE (clock.go, Ring.creditDowntime).
type creditEntry struct{ bootE, credit int64 }

// erasesBefore is the erasure order: recorded longer ago in ring time,
// then footage ending earlier, then the lower block.
func (r *Ring) erasesBefore(a, b uint32) bool {
	x, y := &r.blocks[a], &r.blocks[b]
	if x.lastE != y.lastE {
		return x.lastE < y.lastE
	}
	if x.last != y.last {
		return x.last < y.last
	}
	return a < b
}

// footageBefore is the camera trees' order: footage starting earlier,
// then the lower block; the probe sorts first among equals.
func (r *Ring) footageBefore(a, b uint32) bool {
	key := func(x uint32) int64 {
		if x == probe {
			return r.probeFirst
		}
		return r.blocks[x].first
	}
	if fa, fb := key(a), key(b); fa != fb {
		return fa < fb
	}
	if a == probe || b == probe {
		return b != probe
	}
	return a < b
}

func (r *Ring) newOrderTree() *btree.BTreeG[uint32] { return btree.NewG(btreeDegree, r.erasesBefore) }

func (r *Ring) newCameraTree() *btree.BTreeG[uint32] { return btree.NewG(btreeDegree, r.footageBefore) }

// initBook makes the empty structures (Open, before rebuild).
func (r *Ring) initBook() {
	r.free = newBlockSet(r.nblocks)
	r.avail = newBlockSet(r.nblocks)
	r.erasing = newBlockSet(r.nblocks)
	r.order = r.newOrderTree()
	r.moreInits = map[uint32][]uint32{}
	r.lease = map[uint32]struct{}{}
	r.holdsApplied = map[holdIdent]int{}
	r.holdsByCam = map[string][]holdSpan{}
}

// rebuild books every block: once, at Open, after recovery.
func (r *Ring) rebuild() {
	r.free = newBlockSet(r.nblocks)
	r.avail = newBlockSet(r.nblocks)
	r.erasing = newBlockSet(r.nblocks)
	r.order = r.newOrderTree()
	r.usedBytes, r.heldN, r.keyless = 0, 0, 0
	for _, c := range r.cams {
		c.tree = r.newCameraTree()
		c.bytes, c.maxExtent = 0, 0
		c.initRefs = map[uint32]int32{}
	}
	for i := range r.blocks {
		r.bookAdd(uint32(i))
	}
}

// setMetaLocked changes block b to m, keeping the bookkeeping.
func (r *Ring) setMetaLocked(b uint32, m blockMeta) {
	r.bookRemove(b)
	if m.state == stateFree {
		delete(r.moreInits, b)
	}
	r.blocks[b] = m
	r.bookAdd(b)
}

func (r *Ring) forInits(b uint32, f func(id uint32)) {
	if id := r.blocks[b].init0; id != 0 {
		f(id)
	}
	for _, id := range r.moreInits[b] {
		f(id)
	}
}

// initsOf is block b's init ids, for its index value.
func (r *Ring) initsOf(b uint32) []uint32 {
	var out []uint32
	r.forInits(b, func(id uint32) { out = append(out, id) })
	return out
}

// addInitLocked notes that block b has a fragment of init id.
func (r *Ring) addInitLocked(b uint32, c *camera, id uint32) {
	m := &r.blocks[b]
	switch {
	case id != 0 && m.init0 == id:
		return
	case id != 0 && m.init0 == 0:
		m.init0 = id
	case slices.Contains(r.moreInits[b], id):
		return
	default:
		r.moreInits[b] = append(r.moreInits[b], id)
	}
	if m.flags&flagCam != 0 {
		c.initRefs[id]++
	}
}

// tracked: the block is in its camera's tree.
func tracked(m *blockMeta) bool {
	return m.flags&flagCam != 0 && m.hasFragments() &&
		(m.state == stateOpen || m.state == stateSealed || (m.state == stateErasing && !m.markedErasing()))
}

// bookAdd enters block b, as it now is, into the bookkeeping.
func (r *Ring) bookAdd(b uint32) {
	m := &r.blocks[b]
	m.flags &^= flagHeld | flagCam
	if m.state == stateFree {
		r.free.add(b)
		if _, ok := r.lease[b]; ok {
			r.avail.add(b)
		}
		return
	}
	r.usedBytes += int64(m.used)
	if m.noKey() {
		r.keyless++
	}
	if m.state == stateErasing {
		r.erasing.add(b)
	}
	if c := r.camByNum[m.camera]; c != nil {
		m.flags |= flagCam
		r.forInits(b, func(id uint32) { c.initRefs[id]++ })
		if m.state == stateOpen || m.state == stateSealed {
			c.bytes += int64(m.used)
		}
		if tracked(m) {
			c.tree.ReplaceOrInsert(b)
			c.maxExtent = max(c.maxExtent, m.last-m.first)
			if m.state != stateOpen && r.coveredLocked(c.name, m) {
				m.flags |= flagHeld
				r.heldN++
			}
		}
	}
	if m.state == stateSealed && !m.held() {
		r.order.ReplaceOrInsert(b)
	}
}

// bookRemove takes block b, as it now is, out of the bookkeeping.
func (r *Ring) bookRemove(b uint32) {
	m := &r.blocks[b]
	if m.state == stateFree {
		r.free.remove(b)
		r.avail.remove(b)
		return
	}
	r.usedBytes -= int64(m.used)
	if m.noKey() {
		r.keyless--
	}
	if m.state == stateErasing {
		r.erasing.remove(b)
	}
	if m.state == stateSealed && !m.held() {
		r.order.Delete(b)
	}
	if m.flags&flagCam != 0 {
		c := r.camByNum[m.camera]
		r.forInits(b, func(id uint32) {
			if c.initRefs[id]--; c.initRefs[id] <= 0 {
				delete(c.initRefs, id)
			}
		})
		if m.state == stateOpen || m.state == stateSealed {
			c.bytes -= int64(m.used)
		}
		if tracked(m) {
			c.tree.Delete(b)
		}
	}
	if m.held() {
		r.heldN--
	}
	m.flags &^= flagHeld | flagCam
}

// coveredLocked reports whether an applied hold of camera covers m.
func (r *Ring) coveredLocked(camera string, m *blockMeta) bool {
	if !m.hasFragments() {
		return false
	}
	for _, h := range r.holdsByCam[camera] {
		if h.from < m.last && h.to > m.first {
			return true
		}
	}
	return false
}

// setHeldLocked sets a tracked, non-open block's held flag.
func (r *Ring) setHeldLocked(b uint32, on bool) {
	m := &r.blocks[b]
	if m.held() == on {
		return
	}
	m.setFlag(flagHeld, on)
	if on {
		r.heldN++
		if m.state == stateSealed {
			r.order.Delete(b)
		}
	} else {
		r.heldN--
		if m.state == stateSealed {
			r.order.ReplaceOrInsert(b)
		}
	}
}

// applyHoldsLocked makes the held flags follow holds, the holds now in
// force. Only a change costs anything: each hold added or gone visits
// the blocks of its camera and range, holdChunk at a time, letting go of
// r.mu in between (a hold of a day on 64 cameras is 690,000 blocks at
// 4 MiB: appends must not wait for all of them). Caller holds syncMu, so
// no erasure is chosen before the flags are all set, and r.mu, which it
// holds again on return.
func (r *Ring) applyHoldsLocked(holds []core.HoldRange) {
	if len(holds) == 0 && len(r.holdsApplied) == 0 {
		return
	}
	next := make(map[holdIdent]int, len(holds))
	for _, h := range holds {
		next[holdIdent{h.Camera, holdSpan{h.From.UnixNano(), h.To.UnixNano()}}]++
	}
	if maps.Equal(next, r.holdsApplied) {
		return
	}
	var added, gone []holdIdent
	for k := range next {
		if _, ok := r.holdsApplied[k]; !ok {
			added = append(added, k)
		}
	}
	for k := range r.holdsApplied {
		if _, ok := next[k]; !ok {
			gone = append(gone, k)
		}
	}
	r.holdsApplied = next
	r.holdsByCam = map[string][]holdSpan{}
	for k := range next {
		r.holdsByCam[k.cam] = append(r.holdsByCam[k.cam], k.holdSpan)
	}
	// A block sealed meanwhile is judged against holdsByCam, already new.
	for _, k := range added {
		r.eachInRangeLocked(k.cam, k.holdSpan, true, func(b uint32, m *blockMeta) {
			if m.state != stateOpen {
				r.setHeldLocked(b, true)
			}
		})
	}
	for _, k := range gone {
		r.eachInRangeLocked(k.cam, k.holdSpan, true, func(b uint32, m *blockMeta) {
			if m.state != stateOpen && m.held() && !r.coveredLocked(k.cam, m) {
				r.setHeldLocked(b, false)
			}
		})
	}
}

// holdChunk is how many blocks a hold change visits under one hold of
// r.mu (a few ms).
const holdChunk = 4096

// eachInRangeLocked calls f for every tracked block of camera whose
// footage overlaps span, in footage order. With yield it lets go of r.mu
// every holdChunk blocks (and stops if the ring closed meanwhile); blocks
// entering the tree meanwhile before the point reached are not visited.
func (r *Ring) eachInRangeLocked(camera string, span holdSpan, yield bool, f func(b uint32, m *blockMeta)) {
	c := r.cams[camera]
	if c == nil || c.tree == nil || span.to <= span.from {
		return
	}
	// A block starting up to maxExtent before the range can reach into it.
	from := span.from - c.maxExtent
	if from > span.from { // overflow
		from = -1 << 63
	}
	after := int64(-1) // the last block visited at footage start from
	for {
		var hits []uint32
		more := false
		r.probeFirst = from
		c.tree.AscendGreaterOrEqual(probe, func(b uint32) bool {
			m := &r.blocks[b]
			if m.first >= span.to {
				return false
			}
			if m.first == from && int64(b) <= after {
				return true
			}
			if len(hits) == holdChunk {
				more = true
				return false
			}
			if m.last > span.from {
				hits = append(hits, b)
			}
			from, after = m.first, int64(b)
			return true
		})
		for _, b := range hits {
			f(b, &r.blocks[b])
		}
		if !more || !yield {
			if more { // not yielding: go on without letting go
				continue
			}
			return
		}
		r.mu.Unlock()
		r.mu.Lock()
		if r.closed {
			return
		}
	}
}

// heldOpenLocked counts the cameras' open blocks an applied hold covers
// (open blocks are judged when sealed; Stats counts them too).
func (r *Ring) heldOpenLocked() int {
	n := 0
	for _, c := range r.cams {
		if c.open >= 0 && r.coveredLocked(c.name, &r.blocks[c.open]) {
			n++
		}
	}
	return n
}

// countCoveredLocked counts the distinct blocks with footage that holds
// cover (CheckHold), visiting each camera's tree once per merged range,
// letting go of r.mu every holdChunk blocks (a hold of every camera is
// 690,000 blocks: an estimate, it need not stop the appends).
func (r *Ring) countCoveredLocked(holds []core.HoldRange) int {
	byCam := map[string][]holdSpan{}
	for _, h := range holds {
		if s := (holdSpan{h.From.UnixNano(), h.To.UnixNano()}); s.to > s.from {
			byCam[h.Camera] = append(byCam[h.Camera], s)
		}
	}
	n := 0
	for cam, spans := range byCam {
		sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
		merged := spans[:1]
		for _, s := range spans[1:] {
			if last := &merged[len(merged)-1]; s.from <= last.to {
				last.to = max(last.to, s.to)
			} else {
				merged = append(merged, s)
			}
		}
		for i, s := range merged {
			r.eachInRangeLocked(cam, s, true, func(_ uint32, m *blockMeta) {
				// Counted already if it reaches an earlier range.
				if j := sort.Search(len(merged), func(j int) bool { return merged[j].to > m.first }); j >= i {
					n++
				}
			})
		}
	}
	return n
}

// effE is ring time stamp e (a block's lastE, a camera's openedE) with
// the reboot downtimes credited since applied: those of reboots after
// which e was stamped not at all, those before it all.
func (r *Ring) effE(e int64) int64 {
	if len(r.credits) == 0 {
		return e
	}
	i := sort.Search(len(r.credits), func(i int) bool { return r.credits[i].bootE >= e })
	if i == len(r.credits) {
		return e
	}
	return e - r.creditFrom[i]
}

// setCredits installs credits (sorted by bootE) and their suffix sums.
func (r *Ring) setCredits(cs []creditEntry) {
	r.credits = cs
	r.creditFrom = make([]int64, len(cs))
	var sum int64
	for i := len(cs) - 1; i >= 0; i-- {
		sum += cs[i].credit
		r.creditFrom[i] = sum
	}
}

// Durable lease. Taking a free block writes nothing (its key is ready),
// so after a crash recovery must find the blocks taken since the last
// index commit by reading their first record header. Rather than read
// every free block (a first lap of 5.3 million blocks), appends take
// blocks only from a lease of free blocks committed beforehand: the
// lowest leaseSize free blocks, written with every index commit that
// carries the clock (and the blocks an erasure frees, in the commit that
// frees them). Recovery then reads only the leased free blocks. When an
// append finds the lease used up (more blocks taken within one sync
// interval than it holds), it commits a new one itself (renewLease),
// which keeps the blocks taken under the old one: the invariant is that
// every block taken since its open state was last committed is in the
// durable lease. While a new lease is being committed, appends take only
// blocks in both (narrowLeaseLocked); leases are written under syncMu.
//
// The lease, and the credited downtimes, are stamped with the ring time
// of the clock written in the same transaction: an earlier release, which
// does not keep them, commits the clock without them, and Open then
// ignores them (reading every free block once, crediting nothing it
// cannot prove).

// leaseSizeLocked: with the reserve, a ring wrapping has fewer free
// blocks than this, so the lease is simply every free block.
func (r *Ring) leaseSizeLocked() int { return max(64, 4*len(r.cams)) }

// leaseWantLocked is the lease to commit now: the lowest free blocks.
func (r *Ring) leaseWantLocked() []uint32 {
	k := r.leaseSizeLocked()
	out := make([]uint32, 0, min(k, r.free.len()))
	for b, ok := r.free.next(0); ok && len(out) < k; b, ok = r.free.next(b + 1) {
		out = append(out, b)
	}
	return out
}

// narrowLeaseLocked stops appends taking a block outside want while want
// is being committed in place of the current lease: until it is
// durable, only blocks in both may be taken.
func (r *Ring) narrowLeaseLocked(want []uint32) {
	in := make(map[uint32]struct{}, len(want))
	for _, b := range want {
		in[b] = struct{}{}
	}
	var drop []uint32
	for b, ok := r.avail.next(0); ok; b, ok = r.avail.next(b + 1) {
		if _, ok := in[b]; !ok {
			drop = append(drop, b)
		}
	}
	for _, b := range drop {
		r.avail.remove(b)
	}
}

// leaseCommittedLocked installs a committed lease.
func (r *Ring) leaseCommittedLocked(lease []uint32) {
	r.lease = make(map[uint32]struct{}, len(lease))
	for _, b := range lease {
		r.lease[b] = struct{}{}
		if r.free.has(b) {
			r.avail.add(b)
		}
	}
}

func (r *Ring) leaseListLocked() []uint32 {
	out := make([]uint32, 0, len(r.lease))
	for b := range r.lease {
		out = append(out, b)
	}
	slices.Sort(out)
	return out
}

// putState writes the clock with the lease and the credited downtimes
// it stamps (every index commit that writes the clock goes through here).
func putState(meta *bolt.Bucket, clk clockState, lease []uint32, credits []creditEntry) error {
	if err := clk.put(meta); err != nil {
		return err
	}
	l := binary.BigEndian.AppendUint64(make([]byte, 0, 8+4*len(lease)), uint64(clk.E))
	for _, b := range lease {
		l = binary.BigEndian.AppendUint32(l, b)
	}
	if err := meta.Put([]byte("lease"), l); err != nil {
		return err
	}
	c := binary.BigEndian.AppendUint64(make([]byte, 0, 8+16*len(credits)), uint64(clk.E))
	for _, e := range credits {
		c = binary.BigEndian.AppendUint64(c, uint64(e.bootE))
		c = binary.BigEndian.AppendUint64(c, uint64(e.credit))
	}
	return meta.Put([]byte("credits"), c)
}

// loadState reads the lease and the credits if the clock they were
// written with is the one stored (leaseOK false: read every free block).
func loadState(meta *bolt.Bucket, saved *clockState) (lease []uint32, leaseOK bool, credits []creditEntry, err error) {
	if saved == nil {
		return nil, false, nil, nil
	}
	if v := meta.Get([]byte("lease")); len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) == saved.E {
		if (len(v)-8)%4 != 0 {
			return nil, false, nil, fmt.Errorf("%w: lease of %d bytes", ErrCorrupt, len(v))
		}
		for i := 8; i < len(v); i += 4 {
			lease = append(lease, binary.BigEndian.Uint32(v[i:]))
		}
		leaseOK = true
	}
	if v := meta.Get([]byte("credits")); len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) == saved.E {
		if (len(v)-8)%16 != 0 {
			return nil, false, nil, fmt.Errorf("%w: credits of %d bytes", ErrCorrupt, len(v))
		}
		for i := 8; i < len(v); i += 16 {
			credits = append(credits, creditEntry{int64(binary.BigEndian.Uint64(v[i:])), int64(binary.BigEndian.Uint64(v[i+8:]))})
		}
	}
	return lease, leaseOK, credits, nil
}
