package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/votecast/votecast/schema"
)

type metrics struct {
	acks         *prometheus.CounterVec
	ackSeconds   prometheus.Histogram
	conns        prometheus.Gauge
	refusedConns prometheus.Counter
	badFrames    prometheus.Counter
	stalls       prometheus.Counter
	kicked       *prometheus.CounterVec
}

// kickLabels names the reasons the server ends a connection, for
// votecast_ingest_kicked_total: a label per close reason the server sends.
var kickLabels = map[string]string{
	reasonTooSlow: "slow", reasonFlood: "flood", reasonShutdown: "shutdown",
}

const (
	reasonTooSlow  = "too slow"
	reasonFlood    = "too many frames"
	reasonShutdown = "server shutting down"
)

func newMetrics(reg prometheus.Registerer, maxConns int) *metrics {
	m := &metrics{
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votecast_ingest_acks_total", Help: "Answers to vote frames, by status.",
		}, []string{"status"}),
		ackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "votecast_ingest_publish_seconds", Help: "Time from vote frame to PubAck.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "votecast_ingest_connections", Help: "Open viewer connections.",
		}),
		refusedConns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votecast_ingest_refused_connections_total", Help: "Connections refused by a cap.",
		}),
		badFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votecast_ingest_bad_frames_total", Help: "Frames that were not valid votes.",
		}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "votecast_ingest_log_stalls_total", Help: "Times the vote log acknowledged nothing for the stall timeout while votes waited (they were answered retry).",
		}),
		kicked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votecast_ingest_kicked_total", Help: "Viewers this node disconnected, by reason: slow (did not read its answers), flood (too many frames), shutdown.",
		}, []string{"reason"}),
	}
	for _, l := range kickLabels {
		m.kicked.WithLabelValues(l) // zeros, so an alert's increase() sees the first one
	}
	for _, s := range []string{schema.StatusAccepted, schema.StatusDuplicate, schema.StatusRejected, schema.StatusRetry} {
		m.acks.WithLabelValues(s) // export zeros so dashboards see every status
	}
	if reg != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "votecast_ingest_max_connections", Help: "The cap on viewer connections of this node (--max-conns).",
		}, func() float64 { return float64(maxConns) }))
		reg.MustRegister(m.acks, m.ackSeconds, m.conns, m.refusedConns, m.badFrames, m.stalls, m.kicked)
	}
	return m
}
