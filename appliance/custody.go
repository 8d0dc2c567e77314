package appliance

import (
	"context"
	"log/slog"
	"time"

	"mimamori/core"
)

// copySweepInterval is how often the appliance looks for export package
// copies that must go (past their footage's retention, holds lapsed).
const copySweepInterval = time.Minute

// sweepCopies erases the appliance's copies of export packages whose
// footage would have expired (core.SweepExportCopies), until ctx ends.
// Time is core's trusted time: the ring's persisted clock (Run sets it
// with SetTrustedClock), which neither a wall-clock step nor a restart
// moves ahead, so neither decides an erasure early.
func sweepCopies(ctx context.Context, st *core.Store, log *slog.Logger) {
	sys := core.SystemActor("custody")
	t := time.NewTicker(copySweepInterval)
	defer t.Stop()
	for {
		sweepCopiesOnce(st, sys, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sweepCopiesOnce(st *core.Store, sys core.Actor, log *slog.Logger) {
	if n, err := st.SweepExportCopies(sys, st.TrustedNow()); err != nil {
		log.Error("export copies: sweep failed", "err", err)
	} else if n > 0 {
		log.Info("export copies erased", "count", n)
	}
}
