package appliance

import (
	"context"
	"encoding/base64"
	"log/slog"
	"time"

	"mimamori/core"
)

// checkpointLogInterval: the ledger's signed checkpoint goes to the
// process log at start and then once a day. A journal shipped off the
// box (journald forwarding, syslog) then holds an anchor outside the
// appliance that nobody had to take by hand: `mimamori ledger verify
// --checkpoint` against it shows any later rewrite of the ledger before
// its size. One line a day, whatever the number of cameras.
const checkpointLogInterval = 24 * time.Hour

// logCheckpoints logs a checkpoint now and then every
// checkpointLogInterval, until ctx ends. after is time.After, or a test's
// clock; its interval runs on the monotonic clock, so no wall-clock step
// brings a line forward or holds it back.
func logCheckpoints(ctx context.Context, st *core.Store, log *slog.Logger, after func(time.Duration) <-chan time.Time) {
	sys := core.SystemActor("ledger")
	for {
		logCheckpoint(st, sys, log)
		select {
		case <-ctx.Done():
			return
		case <-after(checkpointLogInterval):
		}
	}
}

func logCheckpoint(st *core.Store, sys core.Actor, log *slog.Logger) {
	cp, err := st.Checkpoint(sys)
	if err != nil {
		log.Warn("ledger checkpoint: not signed", "component", "ledger", "err", err)
		return
	}
	log.Info("ledger checkpoint", "component", "ledger", "size", cp.Size,
		"root", base64.StdEncoding.EncodeToString(cp.Root[:]), "key", cp.Fingerprint, "note", string(cp.Text))
}
