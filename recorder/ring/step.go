package ring

import "mimamori/core"

// Step does once, on the caller's goroutine, what Run's tickers do: the
// data and index sync, the clock check, holds seen, the reserve refilled,
// the retention sweep if sweep is set, and the queued events handed to
// the event log. It is for simulations that drive the ring on their own
// clock (Options.Now and Mono; tools/soak), which cannot wait for Run's
// real-time tickers. Do not call it while Run runs.
func (r *Ring) Step(sweep bool) error {
	if err := r.SyncData(); err != nil {
		return err
	}
	r.checkClock()
	r.observeHolds()
	if err := r.Sync(); err != nil {
		return err
	}
	if err := r.RefillReserve(); err != nil {
		return err
	}
	if sweep {
		if err := r.Sweep(); err != nil {
			return err
		}
		r.releaseIndexPages() // as Run does after a sweep round
	}
	for {
		select {
		case ev := <-r.events:
			if r.o.Events != nil {
				if err := r.o.Events.RecordEvent(core.RecordingEvent{Camera: ev.camera, Kind: ev.kind, At: ev.at, Details: ev.details}); err != nil {
					r.log.Error("cannot record event", "kind", ev.kind, "camera", ev.camera, "err", err)
				}
			}
		default:
			return nil
		}
	}
}
