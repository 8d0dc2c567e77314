package sshd

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Rate is "N events per Per": a bucket of N tokens that refills N per
// Per. The zero value means "no limit".
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) enabled() bool { return r.N > 0 && r.Per > 0 }

// bucket is one token bucket. A clock that steps backwards mints nothing.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) refill(r Rate, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens += float64(el) / (float64(r.Per) / float64(r.N))
		if b.tokens > float64(r.N) {
			b.tokens = float64(r.N)
		}
	}
	b.last = now
}

// reserve takes a token now, or a future token if the bucket is at most
// maxOwed tokens in debt after it and that token comes within maxWait,
// and returns how long to wait for it. ok is false when the caller must
// be refused; nothing is taken then.
func (b *bucket) reserve(r Rate, now time.Time, maxOwed int, maxWait time.Duration) (wait time.Duration, ok bool) {
	b.refill(r, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	after := b.tokens - 1
	wait = time.Duration(-after * float64(r.Per) / float64(r.N))
	if after < -float64(maxOwed) || wait > maxWait {
		return 0, false
	}
	b.tokens = after
	return wait, true
}

// keyedLimiter is a token bucket per key (a remote address, a key
// fingerprint). Buckets that have refilled are pruned, so the map stays
// bounded by the keys seen within Per.
type keyedLimiter struct {
	rate    Rate
	maxOwed int           // callers that may wait for a future token, per key
	maxWait time.Duration // longest wait for one
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastPrune time.Time
}

func newKeyedLimiter(r Rate, maxOwed int, maxWait time.Duration, now func() time.Time) *keyedLimiter {
	return &keyedLimiter{rate: r, maxOwed: maxOwed, maxWait: maxWait, now: now, buckets: map[string]*bucket{}}
}

// reserve is bucket.reserve for key's bucket.
func (l *keyedLimiter) reserve(key string) (time.Duration, bool) {
	if !l.rate.enabled() {
		return 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastPrune) > l.rate.Per {
		for k, b := range l.buckets {
			c := *b
			if c.refill(l.rate, now); c.tokens >= float64(l.rate.N) {
				delete(l.buckets, k)
			}
		}
		l.lastPrune = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.rate.N), last: now}
		l.buckets[key] = b
	}
	return b.reserve(l.rate, now, l.maxOwed, l.maxWait)
}

// hostOf is the address a limit is kept for: the IP, and for IPv6 its
// /64 (one subscriber usually holds a whole /64).
func hostOf(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	var ip net.IP
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip = ta.IP
	} else {
		h, _, err := net.SplitHostPort(addr.String())
		if err != nil {
			return addr.String()
		}
		if ip = net.ParseIP(h); ip == nil {
			return h
		}
	}
	if ip.To4() == nil && len(ip) == net.IPv6len {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// countedConn releases its slot exactly once, however often it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Errors of admission, shown to the client (as an SSH banner when the
// refusal happens during authentication).
var (
	errKeyConns   = errors.New("too many connections for this key")
	errConnsFull  = errors.New("too many connections; try again later")
	errConnGone   = errors.New("connection already closed")
	errKeySession = errors.New("too many open sessions for this key")
	errSessions   = errors.New("too many open sessions; try again later")
)

// connState is where one TCP connection is in the admission accounting.
type connState int

const (
	stateUnauth connState = iota
	stateAuth
	stateGone
)

// tracked is one TCP connection.
type tracked struct {
	conn     net.Conn
	host     string
	state    connState
	fp       string
	manager  bool
	channels int    // open channels (sessions, forwards)
	seq      uint64 // admission order
}

// connLimits are the connection caps (see Options).
type connLimits struct {
	unauth, unauthPerAddr int // unauthenticated, in all and per address
	auth, authPerKey      int // authenticated, in all and per key
	managerReserve        int // authenticated slots only managers may take
	// channels: per connection, per key, in all, and the last ones
	// only managers may open
	chansPerConn, chansPerKey, chans, chanReserve int
}

// connTracker counts connections before and after authentication. The
// two pools are separate: unauthenticated clients can never take what
// enrolled people need. A full unauthenticated pool makes room by closing
// the oldest unauthenticated connection of the busiest address (among
// equally busy ones, of the address holding the oldest), so a newcomer
// (the manager) always gets a chance to authenticate; holding
// slots then costs the attacker a new connection (and a rate-limit token)
// for each one the newcomers push out.
type connTracker struct {
	lim connLimits

	mu      sync.Mutex
	unauth  map[string][]*tracked // by host, oldest first
	nUnauth int
	seq     uint64 // admissions so far
	byKey   map[string]int
	nAuth   int

	chansByKey map[string]int
	nChans     int
}

func newConnTracker(lim connLimits) *connTracker {
	return &connTracker{lim: lim, unauth: map[string][]*tracked{}, byKey: map[string]int{}, chansByKey: map[string]int{}}
}

// admit adds c as unauthenticated. It returns the connections it pushed
// out to make room; the caller closes them (outside the lock).
func (t *connTracker) admit(c *tracked) (evicted []*tracked) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.unauth[c.host]); n >= t.lim.unauthPerAddr {
		evicted = append(evicted, t.evictLocked(c.host))
	}
	if t.nUnauth >= t.lim.unauth {
		// The busiest address; among equals (a stranger using many
		// addresses) the one holding the oldest connection, so a
		// newcomer keeps its slot until the whole pool has turned over.
		busiest, most := "", 0
		for h, l := range t.unauth {
			if len(l) > most || (len(l) == most && l[0].seq < t.unauth[busiest][0].seq) {
				busiest, most = h, len(l)
			}
		}
		evicted = append(evicted, t.evictLocked(busiest))
	}
	t.seq++
	c.seq = t.seq
	c.state = stateUnauth
	t.unauth[c.host] = append(t.unauth[c.host], c)
	t.nUnauth++
	return evicted
}

func (t *connTracker) evictLocked(host string) *tracked {
	l := t.unauth[host]
	old := l[0]
	t.removeUnauthLocked(old)
	old.state = stateGone
	return old
}

func (t *connTracker) removeUnauthLocked(c *tracked) {
	l := t.unauth[c.host]
	for i, x := range l {
		if x == c {
			l = append(l[:i], l[i+1:]...)
			t.nUnauth--
			break
		}
	}
	if len(l) == 0 {
		delete(t.unauth, c.host)
	} else {
		t.unauth[c.host] = l
	}
}

// authenticate moves c to the authenticated pool for key fp, if the key
// and the pool have room (managers may use the reserve).
func (t *connTracker) authenticate(c *tracked, fp string, manager bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.state != stateUnauth {
		return errConnGone
	}
	if t.byKey[fp] >= t.lim.authPerKey {
		return errKeyConns
	}
	limit := t.lim.auth
	if !manager {
		limit -= t.lim.managerReserve
	}
	if t.nAuth >= limit {
		return errConnsFull
	}
	t.removeUnauthLocked(c)
	c.state, c.fp, c.manager = stateAuth, fp, manager
	t.byKey[fp]++
	t.nAuth++
	return nil
}

// unauthenticated reports whether c has not (yet) authenticated.
func (t *connTracker) unauthenticated(c *tracked) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return c.state == stateUnauth
}

// release forgets c (its connection closed).
func (t *connTracker) release(c *tracked) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch c.state {
	case stateUnauth:
		t.removeUnauthLocked(c)
	case stateAuth:
		if t.byKey[c.fp]--; t.byKey[c.fp] <= 0 {
			delete(t.byKey, c.fp)
		}
		t.nAuth--
	}
	c.state = stateGone
}

// openChannel counts a new channel of c's connection, if the connection,
// its key and the server have room for it (managers may use the reserve).
func (t *connTracker) openChannel(c *tracked) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.state != stateAuth {
		return errConnGone
	}
	if c.channels >= t.lim.chansPerConn {
		return errConnChannels
	}
	if t.chansByKey[c.fp] >= t.lim.chansPerKey {
		return errKeyChannels
	}
	limit := t.lim.chans
	if !c.manager {
		limit -= t.lim.chanReserve
	}
	if t.nChans >= limit {
		return errChannelsFull
	}
	c.channels++
	t.chansByKey[c.fp]++
	t.nChans++
	return nil
}

// closeChannel forgets one channel of c (its connection may be gone).
func (t *connTracker) closeChannel(c *tracked) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c.channels--
	if t.chansByKey[c.fp]--; t.chansByKey[c.fp] <= 0 {
		delete(t.chansByKey, c.fp)
	}
	t.nChans--
}

// channels returns the open channels.
func (t *connTracker) channels() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nChans
}

// counts returns the unauthenticated and authenticated connections.
func (t *connTracker) counts() (unauth, auth int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nUnauth, t.nAuth
}
