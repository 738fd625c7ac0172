package natsnode

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/votecast/votecast/schema"
)

// HealthStreams are the streams whose health an operator watches: the
// vote log, the snapshots the totals come from, and the buckets every
// node reads (a bucket is the stream KV_<name>).
var HealthStreams = []string{
	schema.VotesStream, schema.TallyStream, "KV_" + schema.PollsBucket, "KV_" + schema.OwnersBucket,
}

// StreamHealth is one stream as this node sees it now.
type StreamHealth struct {
	Name string `json:"name"`
	// Replicas is the configured count; Current those in step with the
	// leader, the leader included.
	Replicas int    `json:"replicas"`
	Current  int    `json:"current"`
	Leader   string `json:"leader"` // server name; "" when it has none
	// Cluster is false on a single server, where Leader is that server.
	Cluster bool   `json:"cluster"`
	Msgs    uint64 `json:"msgs"`
	Error   string `json:"error,omitempty"` // why the rest is unknown
}

// Health asks for each stream's state, each with its own deadline of
// wait: a stream without a leader answers late or not at all, and must
// not hide the others.
func Health(ctx context.Context, js jetstream.JetStream, wait time.Duration, names ...string) []StreamHealth {
	out := make([]StreamHealth, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			out[i] = streamHealth(ctx, js, name)
		})
	}
	wg.Wait()
	return out
}

func streamHealth(ctx context.Context, js jetstream.JetStream, name string) StreamHealth {
	h := StreamHealth{Name: name}
	s, err := js.Stream(ctx, name)
	if err != nil {
		h.Error = fmt.Sprintf("stream info: %v", err)
		return h
	}
	info := s.CachedInfo()
	h.Replicas, h.Msgs = info.Config.Replicas, info.State.Msgs
	if info.Cluster == nil || len(info.Cluster.Replicas) == 0 && info.Config.Replicas <= 1 {
		// A single server or an R1 stream: it answered, so it leads.
		h.Current = 1
		if info.Cluster != nil {
			h.Leader = info.Cluster.Leader
		}
		if h.Leader == "" {
			h.Leader = "this server"
		}
		return h
	}
	// A follower answers while the stream has no leader (nats-server's
	// jetstream_api.go), with Cluster.Leader empty.
	h.Cluster, h.Leader = true, info.Cluster.Leader
	if h.Leader != "" {
		h.Current = 1
	}
	for _, p := range info.Cluster.Replicas {
		if p.Current && !p.Offline {
			h.Current++
		}
	}
	return h
}

// logCollector exports Health at each scrape, so an alert sees a stream
// without a leader without the node polling for it in between.
type logCollector struct {
	js                        jetstream.JetStream
	leader, replicas, current *prometheus.Desc
}

// NewLogCollector exports votecast_log_leader, votecast_log_replicas and
// votecast_log_replicas_current for HealthStreams. A scrape waits at
// most 2s for a stream's answer: one without a leader reads 0.
func NewLogCollector(js jetstream.JetStream) prometheus.Collector {
	l := []string{"stream"}
	return &logCollector{
		js:       js,
		leader:   prometheus.NewDesc("votecast_log_leader", "1 when the stream has a leader as this node sees it, else 0.", l, nil),
		replicas: prometheus.NewDesc("votecast_log_replicas", "Copies of the stream configured.", l, nil),
		current:  prometheus.NewDesc("votecast_log_replicas_current", "Copies of the stream in step with its leader, the leader included.", l, nil),
	}
}

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.leader
	ch <- c.replicas
	ch <- c.current
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range Health(context.Background(), c.js, 2*time.Second, HealthStreams...) {
		led := 0.0
		if h.Error == "" && h.Leader != "" {
			led = 1
		}
		ch <- prometheus.MustNewConstMetric(c.leader, prometheus.GaugeValue, led, h.Name)
		ch <- prometheus.MustNewConstMetric(c.replicas, prometheus.GaugeValue, float64(h.Replicas), h.Name)
		ch <- prometheus.MustNewConstMetric(c.current, prometheus.GaugeValue, float64(h.Current), h.Name)
	}
}
