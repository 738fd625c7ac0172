package ingest

import (
	"sync/atomic"
	"time"
)

// meter counts events per wall-clock second without a lock or a timer:
// the count of the second under way, and of the one before it.
type meter struct {
	sec  atomic.Int64 // Unix second of cur
	cur  atomic.Int64
	prev atomic.Int64
}

func (m *meter) add(now time.Time) {
	sec := now.Unix()
	if old := m.sec.Load(); old != sec && m.sec.CompareAndSwap(old, sec) {
		n := m.cur.Swap(0)
		if old != sec-1 {
			n = 0 // a quiet second between: nothing the second before
		}
		m.prev.Store(n)
	}
	m.cur.Add(1)
}

// perSecond is the larger of the last full second's count and the
// current one's: a spike shows within the second it starts.
func (m *meter) perSecond(now time.Time) int64 {
	switch m.sec.Load() {
	case now.Unix():
		return max(m.prev.Load(), m.cur.Load())
	case now.Unix() - 1:
		return m.cur.Load()
	}
	return 0
}
