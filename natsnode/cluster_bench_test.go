package natsnode

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkClusterPublish is the price of replication: votes published
// with dedup ids, up to 4096 awaiting their PubAck as ingest keeps them,
// into an R1 and an R3 stream on a three-node loopback cluster with
// sync always, through a node that may or may not lead the stream.
//
//	go test -run '^$' -bench ClusterPublish -benchtime 20000x ./natsnode
func BenchmarkClusterPublish(b *testing.B) {
	c := startCluster(b)
	_, js := c.client(0)
	js, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("R%d", replicas), func(b *testing.B) {
			ctx := context.Background()
			name := fmt.Sprintf("BENCH_R%d", replicas)
			subject := fmt.Sprintf("bench.r%d", replicas)
			err := retryUnavailable(ctx, func() error {
				_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
					Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage,
					Replicas: replicas, Duplicates: 2 * time.Minute,
				})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			payload := []byte(`{"poll":"p","user":"u","option":1,"count":1}`)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if _, err := js.PublishAsync(subject, payload, jetstream.WithMsgID(fmt.Sprintf("p:u%d", i)), jetstream.WithStallWait(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(5 * time.Minute):
				b.Fatal("PubAcks still missing after 5m")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "votes/s")
			b.StopTimer()
			if err := js.DeleteStream(ctx, name); err != nil {
				b.Fatal(err)
			}
		})
	}
}
