package sshd

import (
	"fmt"
	"testing"
)

// A stranger holding the unauthenticated pool from many addresses, one
// connection each, keeps pushing newcomers' connections out. The oldest
// goes first, so a newcomer (the manager) keeps its slot until the whole
// pool has turned over — not until a coin toss picks it.
func TestUnauthenticatedPoolEvictsOldestFirst(t *testing.T) {
	const pool = 32
	for trial := 0; trial < 20; trial++ {
		tr := newConnTracker(connLimits{unauth: pool, unauthPerAddr: 4, auth: 64, authPerKey: 8})
		host := 0
		next := func() *tracked {
			host++
			return &tracked{host: fmt.Sprintf("10.0.%d.%d", host/256, host%256)}
		}
		for i := 0; i < pool; i++ {
			if out := tr.admit(next()); len(out) != 0 {
				t.Fatalf("pool not yet full, %d evicted", len(out))
			}
		}
		victim := next()
		tr.admit(victim)
		for i := 0; i < pool-1; i++ {
			for _, out := range tr.admit(next()) {
				if out == victim {
					t.Fatalf("trial %d: the newcomer was pushed out by the %d-th connection after it, with %d older ones still there",
						trial, i+1, pool-1-i)
				}
			}
		}
		if !tr.unauthenticated(victim) {
			t.Fatal("newcomer gone")
		}
	}
}

// The busiest address still goes first: one attacker address cannot push
// out a single newcomer from elsewhere.
func TestUnauthenticatedPoolEvictsBusiestAddress(t *testing.T) {
	tr := newConnTracker(connLimits{unauth: 8, unauthPerAddr: 8, auth: 64, authPerKey: 8})
	victim := &tracked{host: "192.0.2.1"}
	tr.admit(victim)
	for i := 0; i < 100; i++ {
		for _, out := range tr.admit(&tracked{host: "198.51.100.7"}) {
			if out == victim {
				t.Fatalf("one address pushed out the newcomer after %d connections", i+1)
			}
		}
	}
}
