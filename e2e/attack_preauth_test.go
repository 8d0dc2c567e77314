package e2e

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A stranger holds the unauthenticated pool from 200 addresses (127.0.1.x,
// all local on Linux), each opening 3 connections a second — just under
// the per-address rate — and holding each as long as the server lets it.
// Before, a full pool pushed out a random connection of the (equally
// busy) addresses, often the manager's mid-handshake; now the oldest goes
// and the pool is large enough that it does not turn over within a
// handshake. The manager logs in every time.
func TestAttackUnauthenticatedFloodManyAddresses(t *testing.T) {
	if testing.Short() {
		t.Skip("15 s flood")
	}
	tg := newTarget(t, 0, map[string]string{"manager": "manager"})
	const addrs, perSecond = 200, 3
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var opened, held atomic.Int64
	for a := 1; a <= addrs; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(a))}, Timeout: 5 * time.Second}
			tick := time.NewTicker(time.Second / perSecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				c, err := d.Dial("tcp", tg.addr)
				if err != nil {
					continue
				}
				opened.Add(1)
				held.Add(1)
				_, _ = c.Write([]byte("SSH-2.0-flood\r\n"))
				go func() {
					defer held.Add(-1)
					defer c.Close()
					b := make([]byte, 4096)
					for {
						select {
						case <-stop:
							return
						default:
						}
						_ = c.SetReadDeadline(time.Now().Add(time.Second))
						if _, err := c.Read(b); err != nil && !isTimeout(err) {
							return
						}
					}
				}()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(3 * time.Second) // the pool is full and turning over
	ok, worst := 0, time.Duration(0)
	var failures []string
	for i := 0; i < 10; i++ {
		start := time.Now()
		res, err := tg.run("127.0.0.1", "manager", "whoami")
		took := time.Since(start)
		worst = max(worst, took)
		if err != nil || res.code != 0 {
			failures = append(failures, fmt.Sprintf("%v %q", err, res.stderr))
		} else {
			ok++
		}
		time.Sleep(time.Second) // the key's session rate
	}
	t.Logf("ATTACK unauth-flood-many-addresses: %d addresses, %d connections opened, %d held; manager logged in %d of 10 (slowest %v)",
		addrs, opened.Load(), held.Load(), ok, worst.Round(time.Millisecond))
	if ok != 10 {
		t.Errorf("manager locked out %d of 10 times: %v", 10-ok, failures)
	}
}
