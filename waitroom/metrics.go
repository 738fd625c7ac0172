package waitroom

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	joins       *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	waitSeconds prometheus.Histogram
	votes       *prometheus.CounterVec
}

// refusalReasons are the label values of votecast_waitroom_refused_total,
// exported at zero so a dashboard sees each.
var refusalReasons = []string{"forged", "expired", "other_viewer", "other_poll", "used", "malformed"}

func newMetrics(reg prometheus.Registerer, snap func() Snapshot) *metrics {
	m := &metrics{
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votecast_waitroom_joins_total", Help: "Viewers given a place in the waiting room on this edge; again: one who already had a place.",
		}, []string{"kind"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votecast_waitroom_refused_total", Help: "Tickets refused on this edge, by reason.",
		}, []string{"reason"}),
		votes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "votecast_waitroom_votes_total", Help: "Votes cast from the line through this edge, by answer.",
		}, []string{"status"}),
		waitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "votecast_waitroom_wait_seconds", Help: "Time from joining the line to connecting with the ticket.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 14),
		}),
	}
	for _, r := range refusalReasons {
		m.refusals.WithLabelValues(r)
	}
	m.joins.WithLabelValues("new")
	m.joins.WithLabelValues("again")
	if reg != nil {
		reg.MustRegister(m.joins, m.refusals, m.waitSeconds, m.votes,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "votecast_waitroom_waiting", Help: "Places given and not yet let in (all edges).",
			}, func() float64 { return float64(snap().Waiting) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "votecast_waitroom_admitted_total", Help: "Places let in since the waiting room was created (all edges); rate() is admitted/s.",
			}, func() float64 { return float64(snap().Admitted) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "votecast_waitroom_admission_rate", Help: "The admission rate set, viewers per second (all edges).",
			}, func() float64 { return snap().Rate }),
		)
	}
	return m
}

func (m *metrics) joined(again bool) {
	if again {
		m.joins.WithLabelValues("again").Inc()
	} else {
		m.joins.WithLabelValues("new").Inc()
	}
}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

func (m *metrics) admittedAfter(d time.Duration) { m.waitSeconds.Observe(d.Seconds()) }

// reasonOf names a ticket refusal for the metric.
func reasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return "malformed"
}
