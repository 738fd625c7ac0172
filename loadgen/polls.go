package loadgen

// pollRun is one poll of the run: what its viewers must be shown.
type pollRun struct {
	id       string
	index    int     // in run.polls
	expected []int64 // counts per option: before the run plus the accepted votes
	target   int64   // the total its viewers must see
}

// targets is the total each poll's viewers must see now, by poll index.
func (r *run) targets() []int64 {
	out := make([]int64, len(r.polls))
	for i, p := range r.polls {
		out[i] = p.target
	}
	return out
}

// sumCounts adds up a per-option figure over the polls.
func sumCounts(polls []*pollRun, of func(*pollRun) []int64) []int64 {
	var out []int64
	for _, p := range polls {
		c := of(p)
		if out == nil {
			out = make([]int64, len(c))
		}
		for i := range min(len(c), len(out)) {
			out[i] += c[i]
		}
	}
	return out
}
