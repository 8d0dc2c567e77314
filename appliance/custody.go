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
// Time is the start's wall clock advanced by the monotonic clock, so a
// wall-clock step while running never decides an erasure.
func sweepCopies(ctx context.Context, st *core.Store, log *slog.Logger) {
	start := time.Now()
	trusted := func() time.Time { return start.Add(time.Since(start)).UTC() }
	sys := core.SystemActor("custody")
	t := time.NewTicker(copySweepInterval)
	defer t.Stop()
	for {
		if n, err := st.SweepExportCopies(sys, trusted()); err != nil {
			log.Error("export copies: sweep failed", "err", err)
		} else if n > 0 {
			log.Info("export copies erased", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
