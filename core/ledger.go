package core

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Entry is one append-only, hash-chained ledger record.
type Entry struct {
	Seq      uint64
	Time     time.Time // UTC
	Actor    Actor
	Action   Action
	Subject  string
	Details  map[string]string
	PrevHash string // hex SHA-256 of the previous entry ("000…" for the first)
	Hash     string // hex SHA-256 of this entry's canonical encoding
}

// Stored value layout. The canonical encoding (everything but the trailing
// hash) is what is hashed, so verification needs no decoding:
//
//	[0]      format version: 2 (1 in entries written before schema 2)
//	[1:9]    seq, big-endian
//	[9:17]   time, Unix nanoseconds, big-endian
//	[17:49]  previous entry's hash
//	[49:]    uvarint-length strings: actor fingerprint, actor name,
//	         role, action, subject, then uvarint count and sorted
//	         key/value pairs of details. v2 stores the role by name
//	         ("manager"); v1 stored it as one byte of the Role enum,
//	         whose order is frozen for that reason (role.go).
//	[n-32:]  SHA-256 of [0:n-32]
//
// The whole stored value (hash included) is also the entry's leaf in the
// Merkle tree (tlog.go).
const (
	entryV1   = 1
	entryV2   = 2
	offSeq    = 1
	offTime   = 9
	offPrev   = 17
	offVar    = 49
	hashLen   = 32
	minStored = offVar + hashLen
)

// knownVersion reports whether b is a ledger entry format this program reads.
func knownVersion(b byte) bool { return b == entryV1 || b == entryV2 }

var errLedgerInjected = errors.New("ledger append failed (injected)")

// encodeEntry builds the canonical encoding of e (without hash) into buf.
func encodeEntry(buf []byte, seq uint64, t time.Time, prev []byte, a Actor, action Action, subject string, det map[string]string) []byte {
	buf = append(buf, entryV2)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.UnixNano()))
	buf = append(buf, prev[:hashLen]...)
	buf = appendStr(buf, a.Fingerprint)
	buf = appendStr(buf, a.Name)
	buf = appendStr(buf, a.Role.String())
	buf = appendStr(buf, string(action))
	buf = appendStr(buf, subject)
	buf = binary.AppendUvarint(buf, uint64(len(det)))
	if len(det) > 0 {
		keys := make([]string, 0, len(det))
		for k := range det {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			buf = appendStr(buf, k)
			buf = appendStr(buf, det[k])
		}
	}
	return buf
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readHead returns the last seq and hash recorded in meta.
func readHead(tx *bolt.Tx) (uint64, [hashLen]byte) {
	var h [hashLen]byte
	v := tx.Bucket(bMeta).Get(kLedgerHead)
	if len(v) != 8+hashLen {
		return 0, h
	}
	copy(h[:], v[8:])
	return binary.BigEndian.Uint64(v[:8]), h
}

// appendEntry writes the next ledger entry and moves the head, in tx.
func (s *Store) appendEntry(tx *bolt.Tx, actor Actor, action Action, subject string, det map[string]string) (Entry, error) {
	if s.failAppend != nil {
		if err := s.failAppend(); err != nil {
			return Entry{}, err
		}
	}
	return appendEntryAt(tx, s.nowUTC(), actor, action, subject, det)
}

func appendEntryAt(tx *bolt.Tx, now time.Time, actor Actor, action Action, subject string, det map[string]string) (Entry, error) {
	actor, subject, det = ledgerClean(actor, subject, det)
	seq, prev := readHead(tx)
	seq++
	buf := encodeEntry(make([]byte, 0, 160+len(subject)), seq, now, prev[:], actor, action, subject, det)
	sum := sha256.Sum256(buf)
	buf = append(buf, sum[:]...)
	b := tx.Bucket(bLedger)
	b.FillPercent = 1 // append-only, sequential keys
	if err := b.Put(be64(seq), buf); err != nil {
		return Entry{}, fmt.Errorf("ledger append: %w", err)
	}
	if err := tlogAppend(tx, treeSize(tx), buf); err != nil {
		return Entry{}, err
	}
	head := make([]byte, 0, 8+hashLen)
	head = binary.BigEndian.AppendUint64(head, seq)
	head = append(head, sum[:]...)
	if err := tx.Bucket(bMeta).Put(kLedgerHead, head); err != nil {
		return Entry{}, fmt.Errorf("ledger head: %w", err)
	}
	d := make(map[string]string, len(det))
	for k, v := range det {
		d[k] = v
	}
	return Entry{
		Seq: seq, Time: time.Unix(0, now.UnixNano()).UTC(), Actor: actor, Action: action,
		Subject: subject, Details: d, PrevHash: hex.EncodeToString(prev[:]), Hash: hex.EncodeToString(sum[:]),
	}, nil
}

// decodeEntry parses a stored value. It never panics on bad input.
func decodeEntry(v []byte) (Entry, error) {
	var e Entry
	if len(v) < minStored || !knownVersion(v[0]) {
		return e, fmt.Errorf("%w: malformed ledger entry", ErrInvalid)
	}
	e.Seq = binary.BigEndian.Uint64(v[offSeq:])
	e.Time = time.Unix(0, int64(binary.BigEndian.Uint64(v[offTime:]))).UTC()
	e.PrevHash = hex.EncodeToString(v[offPrev:offVar])
	e.Hash = hex.EncodeToString(v[len(v)-hashLen:])
	r := reader{b: v[offVar : len(v)-hashLen]}
	e.Actor.Fingerprint = r.str()
	e.Actor.Name = r.str()
	if v[0] == entryV1 {
		e.Actor.Role = Role(r.byte())
	} else if err := e.Actor.Role.UnmarshalText([]byte(r.str())); err != nil {
		e.Actor.Role = RoleNone // a role this release does not know
	}
	e.Action = Action(r.str())
	e.Subject = r.str()
	n := r.uvarint()
	if n > uint64(len(v)) {
		r.err = true
	}
	if !r.err && n > 0 {
		e.Details = make(map[string]string, n)
		for i := uint64(0); i < n && !r.err; i++ {
			k := r.str()
			e.Details[k] = r.str()
		}
	}
	if r.err || len(r.b) != 0 {
		return Entry{}, fmt.Errorf("%w: malformed ledger entry %d", ErrInvalid, e.Seq)
	}
	return e, nil
}

// entryByFingerprint is a cheap pre-filter: does the stored entry's actor
// fingerprint (the first field after the fixed header) equal fp?
func entryByFingerprint(v []byte, fp string) bool {
	if len(v) < minStored {
		return false
	}
	n, w := binary.Uvarint(v[offVar:])
	if w <= 0 || n != uint64(len(fp)) || offVar+w+len(fp) > len(v) {
		return false
	}
	return string(v[offVar+w:offVar+w+len(fp)]) == fp
}

// entryAction reads only the action of a stored entry (ok = false if it
// cannot: then decode it to find out what is wrong).
func entryAction(v []byte) (Action, bool) {
	if len(v) < minStored || !knownVersion(v[0]) {
		return "", false
	}
	r := reader{b: v[offVar : len(v)-hashLen]}
	r.skip() // fingerprint
	r.skip() // name
	if v[0] == entryV1 {
		r.byte()
	} else {
		r.skip()
	}
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		return "", false
	}
	return Action(r.b[:n]), true
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) uvarint() uint64 {
	if r.err {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// skip passes over one string.
func (r *reader) skip() {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return
	}
	r.b = r.b[n:]
}

func (r *reader) byte() byte {
	if r.err || len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

const (
	defaultLedgerLimit = 1000
	maxLedgerLimit     = 10000
)

// Ledger returns entries with Seq >= since, at most limit (default 1000,
// at most 10000), of every class. Managers see everything; operators only
// their own entries; everyone else is refused.
func (s *Store) Ledger(actor Actor, since uint64, limit int) ([]Entry, error) {
	return s.LedgerShown(actor, since, limit, ShowAll)
}

// LedgerShown is Ledger for the classes show selects (`ledger` shows
// people's acts unless asked for machine records). A call looks at no more
// than maxLedgerScan entries, so a rare class on a long ledger may return
// fewer than limit: continue after the last seq returned, or after
// since+maxLedgerScan-1 when none was.
func (s *Store) LedgerShown(actor Actor, since uint64, limit int, show LedgerShow) ([]Entry, error) {
	if _, err := s.authorize(actor, ActionLedgerRead, ""); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = defaultLedgerLimit
	}
	if limit > maxLedgerLimit {
		limit = maxLedgerLimit
	}
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bLedger).Cursor()
		scanned := 0
		for k, v := c.Seek(be64(since)); k != nil && len(out) < limit && scanned < maxLedgerScan; k, v = c.Next() {
			scanned++
			e, ok, err := visibleEntry(actor, v, show, nil)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

// maxLedgerScan bounds the entries one listing call looks at (about
// 0.1 s): a filter that matches little on a long ledger pages on instead
// of holding a read transaction for seconds.
const maxLedgerScan = 100_000

// visibleEntry decodes v if actor may see it and it is shown.
func visibleEntry(actor Actor, v []byte, show LedgerShow, match func(*Entry) bool) (Entry, bool, error) {
	all := ScopeOf(actor.Role).AllLedger
	if !all && !entryByFingerprint(v, actor.Fingerprint) {
		return Entry{}, false, nil
	}
	if a, ok := entryAction(v); ok && !show.Shows(a) {
		return Entry{}, false, nil // most of a long ledger: skipped without decoding
	}
	e, err := decodeEntry(v)
	if err != nil {
		return Entry{}, false, err
	}
	if !all && e.Actor.Fingerprint != actor.Fingerprint {
		return Entry{}, false, nil
	}
	if !show.Shows(e.Action) || (match != nil && !match(&e)) {
		return Entry{}, false, nil
	}
	return e, true, nil
}

// LedgerQuery selects one page of the ledger, newest first.
type LedgerQuery struct {
	Before uint64            // entries with Seq < Before; 0 = from the newest
	Limit  int               // entries wanted (default 100, at most 1000)
	Show   LedgerShow        // classes shown (default: people's acts)
	Match  func(*Entry) bool // optional further filter (the console's "/")
}

// LedgerPage is one page of entries, newest first.
type LedgerPage struct {
	Entries []Entry
	Next    uint64 // Before of the next, older page; 0 when the first entry was reached
	Head    uint64 // the ledger's last seq when read
	Total   uint64 // = Head: entries in the ledger (of every class)
}

// LedgerPage reads one page of the ledger from the database, newest
// first, for the console: it never holds more than a page. Permissions as
// for Ledger. A call looks at no more than maxLedgerScan entries; Next
// then says where to go on.
func (s *Store) LedgerPage(actor Actor, q LedgerQuery) (LedgerPage, error) {
	if err := s.check(actor, ActionLedgerRead, ""); err != nil {
		return LedgerPage{}, err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 1000)
	var p LedgerPage
	err := s.db.View(func(tx *bolt.Tx) error {
		p.Head, _ = readHead(tx)
		p.Total = p.Head
		c := tx.Bucket(bLedger).Cursor()
		var k, v []byte
		if q.Before == 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(be64(q.Before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		scanned := 0
		for ; k != nil; k, v = c.Prev() {
			if len(p.Entries) == q.Limit || scanned == maxLedgerScan {
				p.Next = binary.BigEndian.Uint64(k) + 1
				return nil
			}
			scanned++
			e, ok, err := visibleEntry(actor, v, q.Show, q.Match)
			if err != nil {
				return err
			}
			if ok {
				p.Entries = append(p.Entries, e)
			}
		}
		return nil
	})
	return p, err
}

// LedgerHead returns the last sequence number (0 when empty). No actor:
// it reveals nothing but a count, and the console polls it.
func (s *Store) LedgerHead() uint64 {
	var seq uint64
	_ = s.db.View(func(tx *bolt.Tx) error {
		seq, _ = readHead(tx)
		return nil
	})
	return seq
}
