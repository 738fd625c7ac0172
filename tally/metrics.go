package tally

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	outcomes     *prometheus.CounterVec
	flushSeconds prometheus.Histogram
	flushErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votecast_tally_events_total", Help: "Events folded, by outcome.",
		}, []string{"outcome"}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "votecast_tally_flush_seconds", Help: "Time to flush a batch to the store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votecast_tally_flush_errors_total", Help: "Flushes the store refused.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.outcomes, m.flushSeconds, m.flushErrors)
	}
	return m
}
