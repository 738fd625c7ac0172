package loadgen

import (
	"slices"
	"sync"
	"time"
)

// timelineStep is the width of a timeline point.
const timelineStep = 100 * time.Millisecond

// TimelinePoint is one step of the vote phase: votes accepted, the p99 of
// their acks and the totals frames viewers received, each in that step.
type TimelinePoint struct {
	MS           float64 `json:"ms"` // start of the step, from the first send
	AcceptedPerS float64 `json:"accepted_per_s"`
	AckP99MS     float64 `json:"ack_p99_ms"` // of the votes accepted in the step; 0 without any
	FramesPerS   float64 `json:"frames_per_s"`
}

// frameSampler reads the frames viewers received every timelineStep
// until stopped: their rate over the vote phase.
type frameSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	at    []int64 // run clock
	n     []int64 // frames received by then
}

func (r *run) sampleFrames() *frameSampler {
	s := &frameSampler{stopc: make(chan struct{})}
	take := func() { s.at, s.n = append(s.at, r.now()), append(s.n, frames(r.all)) }
	take()
	s.wg.Go(func() {
		t := time.NewTicker(timelineStep)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				take()
				return
			case <-t.C:
				take()
			}
		}
	})
	return s
}

func (s *frameSampler) stop() {
	close(s.stopc)
	s.wg.Wait()
}

// timeline cuts the vote phase, from the first send to the last sample,
// into steps. The caller holds t.mu.
func timeline(first int64, t *voteTracker, s *frameSampler) []TimelinePoint {
	if len(s.at) == 0 || first == 0 {
		return nil
	}
	step := int64(timelineStep)
	end := max(s.at[len(s.at)-1], t.lastAck)
	n := int((end-first)/step) + 1
	out := make([]TimelinePoint, n)
	lats := make([][]time.Duration, n)
	for i, at := range t.acceptedAt {
		if k := int((at - first) / step); k >= 0 && k < n {
			out[k].AcceptedPerS++
			lats[k] = append(lats[k], t.acceptedLat[i])
		}
	}
	perS := float64(time.Second) / float64(step)
	for k := range out {
		out[k].MS = float64(time.Duration(int64(k) * step).Milliseconds())
		out[k].AcceptedPerS *= perS
		if l := lats[k]; len(l) > 0 {
			slices.Sort(l)
			out[k].AckP99MS = float64(l[len(l)*99/100]) / float64(time.Millisecond)
		}
	}
	// Frames: each sample interval's rate, spread over the steps it covers.
	for i := 1; i < len(s.at); i++ {
		d := s.at[i] - s.at[i-1]
		if d <= 0 {
			continue
		}
		rate := float64(s.n[i]-s.n[i-1]) / time.Duration(d).Seconds()
		if k := int((s.at[i-1] - first) / step); k >= 0 && k < n {
			out[k].FramesPerS = rate
		}
	}
	return out
}
