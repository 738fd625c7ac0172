package preflight

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/tally"
)

// ReadShards reads the tally's owners bucket: which of the shard indices
// 0..wanted-1 have no owner, and how many tally nodes are alive. An edge
// reports it, and preflight reads it itself over --nats.
func ReadShards(ctx context.Context, js jetstream.JetStream, wanted int) Shards {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s := Shards{Wanted: wanted, Unowned: []int{}}
	members, owners, err := tally.Owners(ctx, js)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Members = len(members)
	for idx := range wanted {
		if _, ok := owners[idx]; !ok {
			s.Unowned = append(s.Unowned, idx)
		}
	}
	return s
}

// PingStore times one ping of a store.
func PingStore(ctx context.Context, kind string, ping func(context.Context) error) *StoreState {
	st := &StoreState{Kind: kind}
	start := time.Now()
	if err := ping(ctx); err != nil {
		st.Error = fmt.Sprintf("ping: %v", err)
		return st
	}
	st.PingMS = float64(time.Since(start).Microseconds()) / 1000
	return st
}
