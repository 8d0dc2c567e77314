package main

import (
	"sync"
	"time"
)

// simClock is the soak's wall clock and monotonic clock. Advance is time
// passing (both move); Step moves only the wall clock, as an operator or
// a bad NTP server setting the time does.
type simClock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

func (c *simClock) Mono() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.wall = c.wall.Add(d)
	c.mono += d
	c.mu.Unlock()
}

func (c *simClock) Step(d time.Duration) {
	c.mu.Lock()
	c.wall = c.wall.Add(d)
	c.mu.Unlock()
}
