package core

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Erasure proofs in proportion. The recorder hands the proofs of a batch
// of erased blocks to RecordErasures in one call (RecordErasure for one),
// after the erasure is durable, and frees the blocks only when it returns. Core keeps a pending proof per camera in the database (so a
// crash loses no proof: Open writes what a crash left pending) and writes
// it as one ledger entry
//
//   - when it is an hour old (erasureProofEvery) — so while erasures go
//     on, one entry per camera per hour;
//   - when it would need more than erasureMaxSpans separate footage
//     ranges (a hold or a gap splits a range);
//   - when the run ends: the camera is removed (FlushErasureProofs),
//     the appliance shuts down (Close), or erasures stop (the hour passes).
//
// Each entry states the camera, the footage ranges erased (from, to, and
// spans when more than one), the number of blocks and bytes, when the
// erasures happened (erased_from, erased_to) and why (reason, with a count
// per reason if mixed). At 64 cameras that is at most 64 × 24 entries a
// day, plus one per camera per restart.
//
// Deduplication: the ring hands a block's proof over, then frees the
// block; a crash in between makes it hand the same (block, generation)
// over again after the restart (or at the next sweep, if freeing
// failed). Only blocks the ring had in state erasing can be redone, and
// it erases at most maxEraseBatch (16) at a time, so core keeps the last
// erasureWindow erasures, not one key per ring block (5.3 million on a
// 20 TB ring, 344 MiB of pages): bucket erasure_window by a sequence,
// pruned from the front as it goes, and erasure_recent to look a
// (block, generation) up. A redo is recognised as long as fewer than
// erasureWindow other erasures were recorded between the two (about 70
// minutes at 64 cameras; the ring redoes at its next start, sweep or
// refill, within a minute). 32768 pairs are about 3 MiB.
//
// erased_blocks, the per-block bucket of schema 3, is read as well until
// the window has filled once, then deleted (migrateErasureWindow): a
// redo right after the upgrade of an erasure the previous release
// recorded is still recognised.

var (
	bErasureWindow  = []byte("erasure_window")  // be64 seq → be32 block + be64 generation + camera
	bErasureRecent  = []byte("erasure_recent")  // be32 block + be64 generation → be64 seq + camera
	bErasurePending = []byte("erasure_pending") // camera → pendingErasure (JSON)
	// bErasedBlocks is schema 3's dedup bucket (be32 block → be64
	// generation + camera), kept until the window has filled.
	bErasedBlocks = []byte("erased_blocks")
)

// erasureWindow is how many erasures the dedup remembers (a variable
// for tests).
var erasureWindow uint64 = 32768

const (
	erasureProofEvery = time.Hour
	erasureMaxSpans   = 8
	// Two blocks of a camera whose footage is this close are one range:
	// a block ends where the next begins unless the stream had a gap.
	erasureAdjacent = 2 * time.Second
)

// pendingErasure is the proof being gathered for one camera.
type pendingErasure struct {
	Camera     string         `json:"Camera"`
	Since      time.Time      `json:"Since"` // core's clock at the first block of this proof
	Spans      []erasedSpan   `json:"Spans"` // footage erased, sorted, disjoint
	Blocks     int            `json:"Blocks"`
	Bytes      int64          `json:"Bytes"`
	ErasedFrom time.Time      `json:"ErasedFrom"`
	ErasedTo   time.Time      `json:"ErasedTo"`
	Reasons    map[string]int `json:"Reasons"` // blocks by reason
}

type erasedSpan struct {
	From time.Time `json:"From"`
	To   time.Time `json:"To"`
}

// heldGap reports whether a hold of camera keeps footage between a and b.
func heldGap(camera string, a, b time.Time, holds []HoldRange) bool {
	for _, h := range holds {
		if h.Camera == camera && h.From.Before(b) && h.To.After(a) {
			return true
		}
	}
	return false
}

// joins reports whether footage [from, to] continues span sp: overlapping
// or adjacent, with nothing held in between.
func (sp erasedSpan) joins(camera string, from, to time.Time, holds []HoldRange) bool {
	switch {
	case from.After(sp.To):
		return from.Sub(sp.To) <= erasureAdjacent && !heldGap(camera, sp.To, from, holds)
	case to.Before(sp.From):
		return sp.From.Sub(to) <= erasureAdjacent && !heldGap(camera, to, sp.From, holds)
	}
	return true
}

// due reports whether the proof is to be written at now: an hour old,
// or begun "after" now — the wall clock was stepped back, and waiting
// for it to catch up would hold the proof back as long as the step.
func (p *pendingErasure) due(now time.Time) bool {
	return now.Sub(p.Since) >= erasureProofEvery || now.Before(p.Since)
}

// fits reports whether adding [from, to] keeps the proof within its spans.
func (p *pendingErasure) fits(from, to time.Time, holds []HoldRange) bool {
	if len(p.Spans) < erasureMaxSpans {
		return true
	}
	for _, sp := range p.Spans {
		if sp.joins(p.Camera, from, to, holds) {
			return true
		}
	}
	return false
}

func (p *pendingErasure) add(e Erasure, now time.Time, holds []HoldRange) {
	from, to := e.From.UTC(), e.To.UTC()
	if to.Before(from) {
		from, to = to, from
	}
	if p.Blocks == 0 {
		*p = pendingErasure{Camera: e.Camera, Since: now, ErasedFrom: e.ErasedAt.UTC(), ErasedTo: e.ErasedAt.UTC(), Reasons: map[string]int{}}
	}
	p.Blocks++
	p.Bytes += e.Bytes
	if e.ErasedAt.Before(p.ErasedFrom) {
		p.ErasedFrom = e.ErasedAt.UTC()
	}
	if e.ErasedAt.After(p.ErasedTo) {
		p.ErasedTo = e.ErasedAt.UTC()
	}
	if p.Reasons == nil {
		p.Reasons = map[string]int{}
	}
	p.Reasons[e.Reason]++
	joined := false
	for i, sp := range p.Spans {
		if sp.joins(p.Camera, from, to, holds) {
			if from.Before(sp.From) {
				p.Spans[i].From = from
			}
			if to.After(sp.To) {
				p.Spans[i].To = to
			}
			joined = true
			break
		}
	}
	if !joined {
		p.Spans = append(p.Spans, erasedSpan{From: from, To: to})
	}
	sort.Slice(p.Spans, func(i, j int) bool { return p.Spans[i].From.Before(p.Spans[j].From) })
	// A widened span may now reach its neighbour.
	out := p.Spans[:1]
	for _, sp := range p.Spans[1:] {
		last := &out[len(out)-1]
		if last.joins(p.Camera, sp.From, sp.To, holds) {
			if sp.To.After(last.To) {
				last.To = sp.To
			}
			continue
		}
		out = append(out, sp)
	}
	p.Spans = out
}

// draft is the ledger entry of the proof.
func (p *pendingErasure) draft() draft {
	det := map[string]string{
		"from": fmtTime(p.Spans[0].From), "to": fmtTime(p.Spans[len(p.Spans)-1].To),
		"blocks": strconv.Itoa(p.Blocks), "bytes": strconv.FormatInt(p.Bytes, 10),
		"erased_from": fmtTime(p.ErasedFrom), "erased_to": fmtTime(p.ErasedTo),
	}
	if len(p.Spans) > 1 {
		spans := make([]string, len(p.Spans))
		for i, sp := range p.Spans {
			spans[i] = fmtTime(sp.From) + "/" + fmtTime(sp.To)
		}
		det["spans"] = strings.Join(spans, " ")
	}
	reasons := make([]string, 0, len(p.Reasons))
	for r := range p.Reasons {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	det["reason"] = strings.Join(reasons, "+")
	if len(reasons) > 1 {
		for _, r := range reasons {
			det["blocks_"+r] = strconv.Itoa(p.Reasons[r])
		}
	}
	return draft{Subject: p.Camera, Details: det}
}

// RecordErasure records the recorder's proof of deletion of one block.
// When it returns nil the proof is durable. Idempotent by (Block,
// Generation, Camera): recording the same erasure twice counts it once.
func (s *Store) RecordErasure(e Erasure) error {
	return s.recordErasures(SystemActor("recorder"), []Erasure{e})
}

// RecordErasures records several blocks' proofs in one transaction (a
// sweep that erased many blocks, or a simulation): the same as calling
// RecordErasure for each, in order, at the cost of one commit.
func (s *Store) RecordErasures(es []Erasure) error {
	return s.recordErasures(SystemActor("recorder"), es)
}

func (s *Store) recordErasure(actor Actor, e Erasure) error {
	return s.recordErasures(actor, []Erasure{e})
}

func (s *Store) recordErasures(actor Actor, es []Erasure) error {
	if len(es) == 0 {
		return nil
	}
	if !Allowed(actor.Role, ActionErasure) {
		return s.deny(actor, ActionErasure, es[0].Camera)
	}
	for _, e := range es {
		if e.Camera == "" || len(e.Camera) > 256 {
			return Invalid("camera", "required")
		}
	}
	now := s.nowUTC()
	holds := s.ActiveHolds(now)
	_, err := s.mutate(actor, ActionErasure, es[0].Camera, func(tx *bolt.Tx) ([]draft, error) {
		var drafts []draft
		pending := map[string]*pendingErasure{} // read once per camera, written once
		pb := tx.Bucket(bErasurePending)
		dd := openDedup(tx)
		for _, e := range es {
			dup, err := dd.seen(e)
			if err != nil {
				return nil, err
			}
			if dup {
				continue // already recorded
			}
			p := pending[e.Camera]
			if p == nil {
				v, bad := readPending(pb, e.Camera)
				if bad != nil {
					drafts = append(drafts, *bad)
				}
				p = &v
				pending[e.Camera] = p
			}
			if p.Blocks > 0 && (p.due(now) || !p.fits(e.From, e.To, holds)) {
				drafts = append(drafts, p.draft())
				*p = pendingErasure{}
			}
			p.add(e, now, holds)
		}
		for cam, p := range pending {
			if err := putJSON(pb, cam, *p); err != nil {
				return nil, err
			}
		}
		return drafts, dd.finish()
	})
	return err
}

// erasureDedup is the dedup buckets within one transaction.
type erasureDedup struct {
	tx             *bolt.Tx
	window, recent *bolt.Bucket
	legacy         *bolt.Bucket // schema 3's erased_blocks, until dropped
	seq            uint64       // the last sequence given
}

func openDedup(tx *bolt.Tx) *erasureDedup {
	d := &erasureDedup{tx: tx, window: tx.Bucket(bErasureWindow), recent: tx.Bucket(bErasureRecent),
		legacy: tx.Bucket(bErasedBlocks)}
	d.window.FillPercent = 1 // appended in key order, deleted from the front
	d.seq = d.window.Sequence()
	return d
}

func blockGenKey(block uint32, gen uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(make([]byte, 0, 12), block), gen)
}

// seen reports whether e was recorded already, and remembers it if not.
// A duplicate found only in the legacy bucket is remembered too, so a
// second redo is still caught once that bucket is gone.
func (d *erasureDedup) seen(e Erasure) (bool, error) {
	key := blockGenKey(e.Block, e.Generation)
	if v := d.recent.Get(key); len(v) >= 8 && string(v[8:]) == e.Camera {
		return true, nil
	}
	dup := false
	if d.legacy != nil {
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(e.Camera)), e.Generation)
		dup = bytes.Equal(d.legacy.Get(key[:4]), append(v, e.Camera...))
	}
	seq, err := d.window.NextSequence()
	if err != nil {
		return false, err
	}
	d.seq = seq
	if err := d.window.Put(binary.BigEndian.AppendUint64(nil, seq), append(bytes.Clone(key), e.Camera...)); err != nil {
		return false, err
	}
	if err := d.recent.Put(key, append(binary.BigEndian.AppendUint64(nil, seq), e.Camera...)); err != nil {
		return false, err
	}
	return dup, nil
}

// finish prunes the window to its last erasureWindow erasures, and drops
// the legacy bucket once the window has filled.
func (d *erasureDedup) finish() error {
	if d.seq <= erasureWindow && d.legacy == nil {
		return nil
	}
	c := d.window.Cursor()
	for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k)+erasureWindow <= d.seq; k, v = c.First() {
		if len(v) >= 12 {
			rk := v[:12]
			if rv := d.recent.Get(rk); len(rv) >= 8 && bytes.Equal(rv[:8], k) {
				if err := d.recent.Delete(bytes.Clone(rk)); err != nil {
					return err
				}
			}
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	if d.legacy != nil && d.seq >= erasureWindow {
		if err := d.tx.DeleteBucket(bErasedBlocks); err != nil {
			return fmt.Errorf("erased_blocks: %w", err)
		}
		d.legacy = nil
	}
	return nil
}

// readPending reads a camera's pending proof. An unreadable one (a
// damaged record) is not allowed to stop erasures — the ring would fill
// and recording stop — so it is replaced, and the returned entry says so
// with the raw bytes, rather than lost silently.
func readPending(pb *bolt.Bucket, camera string) (pendingErasure, *draft) {
	var p pendingErasure
	raw := pb.Get([]byte(camera))
	if raw == nil {
		return p, nil
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Blocks <= 0 || len(p.Spans) == 0 {
		return pendingErasure{}, &draft{Subject: camera, Details: map[string]string{
			"problem": "a pending erasure proof was unreadable and is replaced",
			"raw":     hex.EncodeToString(raw[:min(len(raw), 512)]),
		}}
	}
	return p, nil
}

// flushErasureProofs writes the pending proofs of camera ("" = every
// camera) that due accepts.
func (s *Store) flushErasureProofs(camera string, due func(p pendingErasure) bool) error {
	_, err := s.mutate(SystemActor("recorder"), ActionErasure, camera, func(tx *bolt.Tx) ([]draft, error) {
		pb := tx.Bucket(bErasurePending)
		var drafts []draft
		var done [][]byte
		err := pb.ForEach(func(k, _ []byte) error {
			if camera != "" && string(k) != camera {
				return nil
			}
			p, bad := readPending(pb, string(k))
			if bad != nil {
				drafts = append(drafts, *bad)
				done = append(done, bytes.Clone(k))
			} else if due(p) {
				drafts = append(drafts, p.draft())
				done = append(done, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, k := range done {
			if err := pb.Delete(k); err != nil {
				return nil, err
			}
		}
		return drafts, nil
	})
	return err
}

// FlushErasureProofs writes camera's pending erasure proof now (all
// cameras if camera is ""): the run of erasures ended, e.g. the camera
// was removed.
func (s *Store) FlushErasureProofs(camera string) error {
	return s.flushErasureProofs(camera, func(pendingErasure) bool { return true })
}

// migrateErasureDedup (2→3) replaces the old dedup bucket (one key per
// erased block ever: camera, block, generation) by erased_blocks (one key
// per ring block: its latest generation and camera). Keys are moved in
// chunks; one that is not in the old layout is counted and dropped (it
// holds no proof: the proofs are ledger entries).
func migrateErasureDedup(tx *bolt.Tx, details map[string]string) (bool, error) {
	old := tx.Bucket([]byte("erasures"))
	if old == nil {
		return false, nil
	}
	nb, err := tx.CreateBucketIfNotExists(bErasedBlocks) // no longer created at open (schema 4)
	if err != nil {
		return false, err
	}
	var del [][]byte
	bad := 0
	c := old.Cursor()
	for k, _ := c.First(); k != nil && len(del) < migrateTreeChunk; k, _ = c.Next() {
		del = append(del, bytes.Clone(k))
		i := bytes.IndexByte(k, 0)
		if i <= 0 || len(k)-i-1 != 12 {
			bad++
			continue
		}
		cam, block, gen := k[:i], k[i+1:i+5], binary.BigEndian.Uint64(k[i+5:])
		if v := nb.Get(block); len(v) >= 8 && binary.BigEndian.Uint64(v) > gen {
			continue // a later lap is already there
		}
		v := binary.BigEndian.AppendUint64(nil, gen)
		if err := nb.Put(bytes.Clone(block), append(v, cam...)); err != nil {
			return false, fmt.Errorf("erased_blocks: %w", err)
		}
	}
	for _, k := range del {
		if err := old.Delete(k); err != nil {
			return false, err
		}
	}
	add := func(key string, n int) {
		v, _ := strconv.Atoi(details[key])
		details[key] = strconv.Itoa(v + n)
	}
	add("dedup_keys", len(del))
	if bad > 0 {
		add("dedup_keys_unreadable", bad)
	}
	if k, _ := old.Cursor().First(); k != nil {
		return true, nil
	}
	return false, tx.DeleteBucket([]byte("erasures"))
}

// migrateErasureWindow (3→4): the dedup becomes a window of the last
// erasures (erasure_window and erasure_recent, created empty). Nothing is
// copied: erased_blocks, one key per ring block, stays for lookups until
// the window has filled once, and recordErasures then deletes it, so a
// redo right after the upgrade of a proof the previous release recorded
// is still recognised.
func migrateErasureWindow(tx *bolt.Tx, details map[string]string) (bool, error) {
	if b := tx.Bucket(bErasedBlocks); b != nil {
		details["legacy_dedup_keys"] = strconv.Itoa(b.Stats().KeyN)
		details["legacy_dropped_after_erasures"] = strconv.FormatUint(erasureWindow, 10)
	}
	return false, nil
}
