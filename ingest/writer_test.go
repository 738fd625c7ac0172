package ingest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/votecast/votecast/internal/await"
)

// recordingConn keeps what was written, slowly enough to make writers
// overlap with new frames.
type recordingConn struct {
	mu     sync.Mutex
	frames []string
	closed websocket.StatusCode
}

func (r *recordingConn) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	<-ctx.Done()
	return 0, nil, ctx.Err()
}
func (r *recordingConn) Write(_ context.Context, _ websocket.MessageType, p []byte) error {
	time.Sleep(time.Microsecond) // a slow socket, to interleave writers and senders
	r.mu.Lock()
	r.frames = append(r.frames, string(p))
	r.mu.Unlock()
	return nil
}
func (r *recordingConn) Close(code websocket.StatusCode, _ string) error {
	r.mu.Lock()
	r.closed = code
	r.mu.Unlock()
	return nil
}
func (r *recordingConn) CloseNow() error { return nil }

func (r *recordingConn) snapshot() ([]string, websocket.StatusCode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...), r.closed
}

func TestOutboxLosesNoAckAndEndsOnTheNewestTotals(t *testing.T) {
	rc := &recordingConn{}
	v := newViewer(&Server{metrics: newMetrics(nil, 0)}, rc, "u", "p")
	defer v.endWrites()
	var wg sync.WaitGroup
	const n = 60 // under ackQueue per burst is not guaranteed: send in steps
	wg.Go(func() {
		for i := range n {
			v.send([]byte(fmt.Sprintf("ack-%03d", i)))
			time.Sleep(20 * time.Microsecond) // a vote rate, not a flood
		}
	})
	wg.Go(func() {
		for i := range 500 {
			v.Offer([]byte(fmt.Sprintf("results-%03d", i)))
		}
	})
	wg.Wait()
	var acks []string
	await.For(t, 5*time.Second, func() string {
		frames, _ := rc.snapshot()
		acks = acks[:0]
		last := ""
		for _, f := range frames {
			if f[:3] == "ack" {
				acks = append(acks, f)
			} else {
				last = f
			}
		}
		if len(acks) != n || last != "results-499" {
			return fmt.Sprintf("%d of %d acks and last results %q, want all of them and results-499", len(acks), n, last)
		}
		return ""
	})
	for i, a := range acks {
		if a != fmt.Sprintf("ack-%03d", i) {
			t.Fatalf("ack %d is %s: out of order", i, a)
		}
	}
}

func TestKickWritesQueuedAcksThenCloses(t *testing.T) {
	rc := &recordingConn{}
	v := newViewer(&Server{metrics: newMetrics(nil, 0)}, rc, "u", "p")
	v.send([]byte("ack-1"))
	v.send([]byte("ack-2"))
	v.goAway()
	select {
	case <-v.out.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("kick never finished")
	}
	frames, code := rc.snapshot()
	if len(frames) != 2 || frames[0] != "ack-1" || frames[1] != "ack-2" || code != websocket.StatusGoingAway {
		t.Fatalf("frames %v, close %v", frames, code)
	}
	v.Offer([]byte("late")) // nothing is written after the close
	v.goAway()              // a second kick changes nothing
	if frames, _ := rc.snapshot(); len(frames) != 2 {
		t.Fatalf("wrote after close: %v", frames)
	}
}

func TestTooSlowViewerIsKicked(t *testing.T) {
	block := make(chan struct{})
	bc := &blockingConn{release: block}
	m := newMetrics(nil, 0)
	v := newViewer(&Server{metrics: m}, bc, "u", "p")
	// The blocked writer holds what it took; the queue behind it fills.
	for i := 0; i < 3*ackQueue && !v.out.closing(); i++ {
		v.send([]byte("ack"))
	}
	if !v.out.closing() {
		t.Fatal("a viewer with a full ack queue was not kicked")
	}
	// The alert on slow viewers reads this; once per viewer, however many
	// acks found the queue full.
	for reason, want := range map[string]float64{"slow": 1, "flood": 0, "shutdown": 0} {
		var d dto.Metric
		if err := m.kicked.WithLabelValues(reason).Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetCounter().GetValue(); got != want {
			t.Errorf("kicked_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	close(block)
	select {
	case <-v.out.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("kick never finished")
	}
}

type blockingConn struct{ release chan struct{} }

func (b *blockingConn) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	<-ctx.Done()
	return 0, nil, ctx.Err()
}
func (b *blockingConn) Write(context.Context, websocket.MessageType, []byte) error {
	<-b.release
	return nil
}
func (b *blockingConn) Close(websocket.StatusCode, string) error { return nil }
func (b *blockingConn) CloseNow() error                          { return nil }

// signalConn tells the benchmark each write.
type signalConn struct {
	recordingConn
	wrote chan struct{}
}

func (s *signalConn) Write(context.Context, websocket.MessageType, []byte) error {
	s.wrote <- struct{}{}
	return nil
}

// BenchmarkDelivery is one totals frame handed to a viewer and written:
// the hand-off, the writer's wake-up and its round (the socket is a fake).
func BenchmarkDelivery(b *testing.B) {
	sc := &signalConn{wrote: make(chan struct{}, 1)}
	v := newViewer(&Server{metrics: newMetrics(nil, 0)}, sc, "u", "p")
	defer v.endWrites()
	frame := []byte(`{"type":"results","poll":"abcdefghij","counts":[1,2,3,4],"total":10}`)
	b.ReportAllocs()
	for b.Loop() {
		v.Offer(frame)
		<-sc.wrote
	}
}
