package appliance

import (
	"log/slog"

	"mimamori/core"
	"mimamori/metrics"
	"mimamori/recorder"
	"mimamori/sshd"
)

// startMetrics opens the Prometheus endpoint when metrics.listen is set
// (nil, nil when it is not) and instruments the exporter. The endpoint
// only reads: recorder snapshots, console counters, ledger counts.
func (a *Appliance) startMetrics(rec *recorder.Recorder, srv *sshd.Server, exp core.Exporter, log *slog.Logger) (*metrics.Server, error) {
	addr := a.Config.Metrics.Listen
	if addr == "" {
		a.Store.SetExporter(exp)
		return nil, nil
	}
	exports := metrics.NewExports()
	a.Store.SetExporter(exports.Wrap(exp))
	c := metrics.NewCollector(metrics.Sources{Recorder: rec, Ledger: a.Store,
		LedgerCheck: a.Store.LedgerStanding, Console: srv, Version: Version})
	ms, err := metrics.Listen(addr, metrics.Registry(c, exports), log)
	if err != nil {
		return nil, err
	}
	if !metrics.IsLoopback(addr) {
		log.Warn("metrics endpoint is reachable from the network; restrict it with a firewall (docs/install.md)",
			"component", "metrics", "listen", ms.Addr().String())
	}
	go func() {
		if err := ms.Serve(); err != nil {
			log.Error("metrics endpoint stopped", "component", "metrics", "err", err)
		}
	}()
	log.Info("metrics endpoint listening", "component", "metrics", "listen", ms.Addr().String())
	return ms, nil
}
