package tally_test

import "github.com/votecast/votecast/schema"

// The list side of the tests' poll sources: the worker consumes the shard
// indices their polls use.

func (s staticPolls) List() []schema.Poll {
	out := make([]schema.Poll, 0, len(s))
	for _, p := range s {
		out = append(out, p)
	}
	return out
}

// Changed never fires: the polls are fixed.
func (s staticPolls) Changed() <-chan struct{} { return nil }

func (l *latePolls) List() []schema.Poll {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]schema.Poll, 0, len(l.polls))
	for _, p := range l.polls {
		out = append(out, p)
	}
	return out
}

func (l *latePolls) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}
