package sshd

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Rate is "N events per Per". The zero value means "no limit".
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) enabled() bool { return r.N > 0 && r.Per > 0 }

// addrLimiter is a token bucket per remote IP, so one noisy address cannot
// use up the appliance's connection budget. Buckets that have refilled are
// pruned, so the map stays bounded by the addresses seen within Per.
type addrLimiter struct {
	rate Rate
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastPrune time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newAddrLimiter(r Rate, now func() time.Time) *addrLimiter {
	return &addrLimiter{rate: r, now: now, buckets: map[string]*bucket{}}
}

// allow takes one token for addr's host and reports whether there was one.
func (l *addrLimiter) allow(addr net.Addr) bool {
	if !l.rate.enabled() {
		return true
	}
	host := hostOf(addr)
	now := l.now()
	perToken := float64(l.rate.Per) / float64(l.rate.N)

	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastPrune) > l.rate.Per {
		l.prune(now, perToken)
		l.lastPrune = now
	}
	b, ok := l.buckets[host]
	if !ok {
		b = &bucket{tokens: float64(l.rate.N), last: now}
		l.buckets[host] = b
	}
	// A clock that steps backwards must not mint tokens.
	if el := now.Sub(b.last); el > 0 {
		b.tokens += float64(el) / perToken
		if b.tokens > float64(l.rate.N) {
			b.tokens = float64(l.rate.N)
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune drops buckets that would be full by now; they carry no state.
func (l *addrLimiter) prune(now time.Time, perToken float64) {
	for h, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))/perToken >= float64(l.rate.N) {
			delete(l.buckets, h)
		}
	}
}

func hostOf(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return h
}

// countedConn releases its slot in the open-connection count exactly once,
// however often it is closed.
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

// connCounter is the number of open TCP connections, authenticated or not.
type connCounter struct{ n atomic.Int64 }

// acquire takes a slot unless max are taken (max <= 0: unlimited).
func (c *connCounter) acquire(max int) bool {
	if c.n.Add(1) > int64(max) && max > 0 {
		c.n.Add(-1)
		return false
	}
	return true
}

func (c *connCounter) release() { c.n.Add(-1) }
