package core

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// machineTick is how often the machine-records loop looks for what is due
// (event summaries, hour-old erasure proofs). Far below their periods.
const machineTick = 30 * time.Second

// startMachine writes what a crash left pending and starts the loop.
func (s *Store) startMachine() {
	s.events.init()
	if s.erasureProofsPending(func(pendingErasure) bool { return true }) {
		if err := s.FlushErasureProofs(""); err != nil {
			s.log.Error("ledger: erasure proofs left by the last run", "err", err)
		}
	}
	s.machineStop, s.machineDone = make(chan struct{}), make(chan struct{})
	if s.manualTick {
		close(s.machineDone)
		return
	}
	go s.machineLoop()
}

// stopMachine ends the loop and writes everything pending: the run of
// erasures and of events ends with the process.
func (s *Store) stopMachine() {
	s.machineOnce.Do(func() {
		close(s.machineStop)
		<-s.machineDone
		s.events.due(s.nowUTC(), true)
		s.writeEvents()
		if err := s.FlushErasureProofs(""); err != nil {
			s.log.Error("ledger: erasure proofs at shutdown", "err", err)
		}
	})
}

func (s *Store) machineLoop() {
	defer close(s.machineDone)
	t := time.NewTicker(machineTick)
	defer t.Stop()
	for {
		select {
		case <-s.machineStop:
			return
		case <-s.events.wake:
			s.writeEvents()
		case <-t.C:
			s.TickMachineRecords()
		}
	}
}

// TickMachineRecords writes the machine records due at the store's clock:
// summaries of event windows that ended, erasure proofs an hour old. The
// store does this every 30 s by itself; a simulation that moves its own
// clock (Options.Now) calls it after each step.
func (s *Store) TickMachineRecords() {
	now := s.nowUTC()
	s.events.due(now, false)
	s.writeEvents()
	due := func(p pendingErasure) bool { return p.due(now) }
	if s.erasureProofsPending(due) {
		if err := s.flushErasureProofs("", due); err != nil {
			s.log.Error("ledger: erasure proofs", "err", err)
		}
	}
}

// erasureProofsPending looks (read-only, so an idle tick costs no commit)
// whether any pending proof is due.
func (s *Store) erasureProofsPending(due func(pendingErasure) bool) bool {
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bErasurePending)
		return pb.ForEach(func(k, _ []byte) error {
			p, bad := readPending(pb, string(k))
			found = found || bad != nil || due(p)
			return nil
		})
	})
	return found
}
