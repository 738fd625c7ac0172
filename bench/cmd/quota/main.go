// Command quota runs the seed's quota pre-allocation strategy for a
// first-come giveaway (package quota) and prints one line, RESULT {json}.
// It exits 1 unless exactly the prizes were given. scripts/bench-giveaway
// runs it beside votecast load --giveaway.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/votecast/votecast/bench/quota"
)

func main() {
	var c quota.Config
	fs := flag.NewFlagSet("quota", flag.ExitOnError)
	fs.IntVar(&c.Entrants, "entrants", 100_000, "entrants, each entering once")
	fs.IntVar(&c.Prizes, "prizes", 100, "prizes, shared out among the servers")
	fs.IntVar(&c.Servers, "servers", 4, "servers on loopback, each with a share")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "clients entering at once")
	fs.Float64Var(&c.Rate, "rate", 0, "entrants per second (0: as fast as the clients go)")
	fs.BoolVar(&c.Skewed, "skewed", false, "half the entrants to the first server, the rest spread over the others (default: round-robin)")
	fs.DurationVar(&c.PeerDelay, "peer-delay", 0, "added to each ask of another server, standing for a link between regions (loopback has none)")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on the run")
	_ = fs.Parse(os.Args[1:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, err := quota.Run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
	if !r.ExactlyPrizes {
		fmt.Fprintf(os.Stderr, "quota: %d winners, want %d\n", r.Winners, c.Prizes)
		os.Exit(1)
	}
}
