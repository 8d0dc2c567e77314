package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mimamori/core"
)

// Exports counts export packages by wrapping the export engine, so core's
// export path is unchanged: mimamori_exports_total{outcome},
// mimamori_export_bytes_total and mimamori_export_duration_seconds.
type Exports struct {
	total    *prometheus.CounterVec
	bytes    prometheus.Counter
	duration prometheus.Histogram
}

// Export outcomes.
const (
	OutcomeOK       = "ok"
	OutcomeFailed   = "failed"
	OutcomeCanceled = "canceled"
)

// NewExports returns the export instruments (register them with Registry).
func NewExports() *Exports {
	e := &Exports{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mimamori_exports_total",
			Help: "Export packages built, by outcome: ok, failed or canceled.",
		}, []string{"outcome"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mimamori_export_bytes_total",
			Help: "Bytes of footage written into export packages that were completed.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mimamori_export_duration_seconds",
			Help: "Time to build an export package, whatever the outcome.",
			// Seconds for a short clip to an hour for a day of one camera.
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}),
	}
	for _, o := range []string{OutcomeOK, OutcomeFailed, OutcomeCanceled} {
		e.total.WithLabelValues(o)
	}
	return e
}

// Describe implements prometheus.Collector.
func (e *Exports) Describe(ch chan<- *prometheus.Desc) {
	e.total.Describe(ch)
	e.bytes.Describe(ch)
	e.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (e *Exports) Collect(ch chan<- prometheus.Metric) {
	e.total.Collect(ch)
	e.bytes.Collect(ch)
	e.duration.Collect(ch)
}

// Wrap returns an Exporter that does what x does and counts it.
func (e *Exports) Wrap(x core.Exporter) core.Exporter { return instrumented{x: x, m: e} }

type instrumented struct {
	x core.Exporter
	m *Exports
}

func (i instrumented) Export(ctx context.Context, job core.ExportJob, progress func(done, total int64)) (core.ExportRecord, error) {
	t0 := time.Now()
	rec, err := i.x.Export(ctx, job, progress)
	i.m.duration.Observe(time.Since(t0).Seconds())
	switch {
	case err == nil:
		i.m.total.WithLabelValues(OutcomeOK).Inc()
		var n int64
		for _, f := range rec.Files {
			n += f.Bytes
		}
		i.m.bytes.Add(float64(n))
	case errors.Is(err, context.Canceled):
		i.m.total.WithLabelValues(OutcomeCanceled).Inc()
	default:
		i.m.total.WithLabelValues(OutcomeFailed).Inc()
	}
	return rec, err
}
