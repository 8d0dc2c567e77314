package core

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commit. bbolt allows one writer at a time and each commit pays
// two fsyncs, so concurrent writers share commits: a single committer
// goroutine takes every write waiting at that moment, runs them in one
// transaction and syncs once. Unlike db.Batch there is no timer, so a
// lone writer pays no added delay and under load a batch holds exactly
// the writes that queued during the previous commit.
//
// As with db.Batch, a write function may run more than once: if one
// fails, the transaction is rolled back, the failing function is re-run
// alone (so its error is its own) and the others are retried together.

const (
	maxGroup  = 256
	groupWait = 200 * time.Microsecond // far below one commit's fsyncs
)

var errStoreClosed = errors.New("store is closed")

type call struct {
	fn  func(*bolt.Tx) error
	err chan error
}

func (s *Store) startCommitter() {
	s.calls = make(chan *call)
	s.closing = make(chan struct{})
	s.committerDone = make(chan struct{})
	go s.committer()
}

func (s *Store) stopCommitter() {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.committerDone
}

// write runs fn in a read-write transaction shared with concurrent writers.
func (s *Store) write(fn func(*bolt.Tx) error) error {
	c := &call{fn: fn, err: make(chan error, 1)}
	select {
	case s.calls <- c:
	case <-s.closing:
		return errStoreClosed
	}
	return <-c.err
}

func (s *Store) committer() {
	defer close(s.committerDone)
	last := 1 // size of the previous group
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *call
		select {
		case first = <-s.calls:
		case <-s.closing:
			return
		}
		group := []*call{first}
	drain:
		for len(group) < maxGroup {
			select {
			case c := <-s.calls:
				group = append(group, c)
			default:
				break drain
			}
		}
		// Writers released by the previous commit are still waking up;
		// give them a moment to join so the group (and its fsync) is shared.
		if len(group) < last {
			timer.Reset(groupWait)
		wait:
			for len(group) < last {
				select {
				case c := <-s.calls:
					group = append(group, c)
				case <-timer.C:
					break wait
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		last = len(group)
		s.runGroup(group)
	}
}

func (s *Store) runGroup(group []*call) {
	for len(group) > 0 {
		failed := -1
		s.commits.Add(1)
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, c := range group {
				if err := safeCall(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range group {
				c.err <- err
			}
			return
		}
		c := group[failed]
		group = append(group[:failed:failed], group[failed+1:]...)
		if len(group) == 0 && failed == 0 {
			c.err <- err // it ran alone already
			return
		}
		c.err <- s.db.Update(func(tx *bolt.Tx) error { return safeCall(c.fn, tx) })
	}
}

// safeCall turns a panic in a write function into an error: bad input
// must never take the appliance down.
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in write: %v", p)
		}
	}()
	return fn(tx)
}
