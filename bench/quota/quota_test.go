package quota

import (
	"context"
	"testing"
)

func TestFairness(t *testing.T) {
	w, late := Fairness([]int64{10, 20, 30, 40}, []bool{true, false, true, true})
	if w != 3 || late != 2 {
		t.Fatalf("%d winners, %d late; want 3, 2", w, late)
	}
}

// Exactly the prizes are given, however the shares move between servers.
func TestRunGivesExactlyThePrizes(t *testing.T) {
	for _, c := range []Config{
		{Entrants: 2000, Prizes: 100, Servers: 4, Concurrency: 16},
		{Entrants: 500, Prizes: 499, Servers: 3, Concurrency: 8},
		{Entrants: 50, Prizes: 100, Servers: 2, Concurrency: 4},
		// Half the entrants on one server: its share runs out first and
		// it takes shares from the others.
		{Entrants: 2000, Prizes: 100, Servers: 4, Concurrency: 16, Skewed: true},
	} {
		r, err := Run(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if !r.ExactlyPrizes {
			t.Fatalf("%+v: %d winners", c, r.Winners)
		}
	}
}
