package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// config is one measurement; main fills it from flags.
type config struct {
	URL                string // the server's base URL, http://127.0.0.1:28700
	APIKey             string // the server HTTP API's key
	Secret             []byte // HS256 key of connection tokens
	Channel            string
	Clients            int
	Probes             int
	Settle             time.Duration // the measuring pause before the idle reading
	PhaseTimeout       time.Duration // limit of connecting, and of each probe
	ConnectConcurrency int
	Sources            []netip.Addr // local addresses client sockets bind to; none: the OS picks
	PID                int          // the server's process
	MetricsURL         string       // the server's Prometheus endpoint; empty: not read
	Comm               string       // its expected command name; empty: not checked
	ClockTick          int          // CLK_TCK, clock ticks a second
	Version            string       // the server's version as installed
	Progress           io.Writer
}

// result is the RESULT line.
type result struct {
	Clients          int       `json:"clients"`
	Probes           int       `json:"probes"`
	Deliveries       int64     `json:"deliveries"`
	RSSBefore        int64     `json:"rss_before_bytes"`
	RSSIdle          int64     `json:"rss_idle_bytes"`
	KiBPerIdleConn   float64   `json:"kib_per_idle_conn"`
	CPUUSPerDelivery float64   `json:"cpu_us_per_delivery"`
	LastViewerMS     []float64 `json:"last_viewer_ms"`
	PublishAckMS     []float64 `json:"publish_ack_ms"`
	SentToLastMS     []float64 `json:"sent_to_last_viewer_ms"`
	ProbeCPUTicks    int64     `json:"probe_cpu_ticks"`
	ClockTick        int       `json:"clk_tck"`
	IdleCPUPercent   float64   `json:"idle_cpu_percent"`
	// From the server's Go runtime gauges, when MetricsURL is set.
	IdleGoroutinesPerConn float64 `json:"idle_goroutines_per_conn,omitempty"`
	IdleStackKiBPerConn   float64 `json:"idle_stack_kib_per_conn,omitempty"`
	IdleHeapKiBPerConn    float64 `json:"idle_heap_kib_per_conn,omitempty"`
	ConnectSeconds        float64 `json:"connect_seconds"`
	SettleSeconds         float64 `json:"settle_seconds"`
	PayloadBytes          int     `json:"payload_bytes"`
	Sources               int     `json:"sources"`
	CentrifugoVersion     string  `json:"centrifugo_version"`
	ReportedVersion       string  `json:"reported_version"` // what the server tells clients
}

// measurement is one run: it owns the viewers and their readers, which
// end when the context given to measure ends (close waits for them).
type measurement struct {
	cfg      config
	proc     serverProc
	api      *http.Client
	fan      *fanout
	viewers  []*viewer
	rtBefore goRuntime
	res      result
}

func (m *measurement) logf(format string, args ...any) {
	fmt.Fprintf(m.cfg.Progress, format+"\n", args...)
}

// measure connects the viewers, reads the idle memory and runs the probes.
func measure(ctx context.Context, cfg config) (result, error) {
	m := &measurement{
		cfg:  cfg,
		proc: serverProc{pid: cfg.PID},
		api:  &http.Client{Timeout: 30 * time.Second},
		fan:  &fanout{epoch: time.Now()},
		res: result{
			Clients: cfg.Clients, ClockTick: cfg.ClockTick, CentrifugoVersion: cfg.Version,
			SettleSeconds: cfg.Settle.Seconds(), PayloadBytes: len(probePayload(1)), Sources: len(cfg.Sources),
		},
	}
	ctx, cancel := context.WithCancel(ctx)
	defer m.fan.readers.Wait()
	defer cancel() // ends the readers, which close their connections
	if cfg.Comm != "" {
		comm, err := m.proc.comm()
		if err != nil {
			return m.res, err
		}
		if comm != cfg.Comm {
			return m.res, fmt.Errorf("process %d is %q, not %q", cfg.PID, comm, cfg.Comm)
		}
	}
	before, err := m.proc.usage()
	if err != nil {
		return m.res, err
	}
	m.res.RSSBefore = before.RSS
	if cfg.MetricsURL != "" {
		if m.rtBefore, err = readGoRuntime(ctx, m.api, cfg.MetricsURL); err != nil {
			return m.res, err
		}
	}
	if err := m.connect(ctx); err != nil {
		return m.res, err
	}
	if err := m.idle(ctx); err != nil {
		return m.res, err
	}
	if err := m.probes(ctx); err != nil {
		return m.res, err
	}
	return m.res, nil
}

// connect opens every connection with at most ConnectConcurrency in
// progress; every client must connect and subscribe.
func (m *measurement) connect(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, m.cfg.PhaseTimeout)
	defer cancel()
	clients := m.httpClients()
	wsURL := "ws" + strings.TrimPrefix(m.cfg.URL, "http") + "/connection/websocket"
	viewers := make([]*viewer, m.cfg.Clients)
	var next, connected, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var reported atomic.Pointer[string]
	start := time.Now()
	stop := m.progress(func() string {
		return fmt.Sprintf("connect: %d/%d subscribed, %d failed", connected.Load(), m.cfg.Clients, failed.Load())
	})
	var wg sync.WaitGroup
	for range min(m.cfg.ConnectConcurrency, m.cfg.Clients) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= m.cfg.Clients || cctx.Err() != nil {
					return
				}
				// The connection outlives the phase: its reader runs on ctx,
				// the dial and the two commands on cctx.
				v, version, err := dialViewer(cctx, ctx, m.fan, clients[i%len(clients)], wsURL, m.cfg.Secret, fmt.Sprintf("peer-%06d", i), m.cfg.Channel)
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				reported.CompareAndSwap(nil, &version)
				viewers[i] = v
				connected.Add(1)
			}
		})
	}
	wg.Wait()
	stop()
	m.res.ConnectSeconds = time.Since(start).Seconds()
	if v := reported.Load(); v != nil {
		m.res.ReportedVersion = *v
		if m.res.CentrifugoVersion == "" {
			m.res.CentrifugoVersion = *v
		}
	}
	for _, v := range viewers {
		if v != nil {
			m.viewers = append(m.viewers, v)
		}
	}
	if n := len(m.viewers); n < m.cfg.Clients {
		return fmt.Errorf("connect: %d of %d clients connected and subscribed within %s (%d failed); first error: %v",
			n, m.cfg.Clients, m.cfg.PhaseTimeout, failed.Load(), firstErr)
	}
	m.logf("connect: %d clients subscribed in %.1fs", len(m.viewers), m.res.ConnectSeconds)
	return nil
}

// httpClients returns one client per source address (or one that lets the
// OS pick): the dialer binds the socket before connecting.
func (m *measurement) httpClients() []*http.Client {
	if len(m.cfg.Sources) == 0 {
		return []*http.Client{{Transport: &http.Transport{}}}
	}
	out := make([]*http.Client, len(m.cfg.Sources))
	for i, src := range m.cfg.Sources {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(src.AsSlice())}, Timeout: dialTimeout}
		out[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	return out
}

// idle lets the server settle with every client subscribed and reads its
// memory, as votecast load does after every viewer has its first frame.
func (m *measurement) idle(ctx context.Context) error {
	p0, err := m.proc.usage()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("idle: %w", ctx.Err())
	case <-time.After(m.cfg.Settle): // a measuring pause, not a wait for a condition
	}
	p1, err := m.proc.usage()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	if n := m.fan.gone.Load(); n > 0 {
		return fmt.Errorf("idle: %d connections ended; the first: %v", n, m.fan.goneErr)
	}
	m.res.RSSIdle = p1.RSS
	m.res.KiBPerIdleConn = float64(p1.RSS-m.res.RSSBefore) / float64(len(m.viewers)) / 1024
	m.res.IdleCPUPercent = float64(p1.CPUTicks-p0.CPUTicks) / float64(m.cfg.ClockTick) / m.cfg.Settle.Seconds() * 100
	m.logf("idle: RSS %.1f MiB before, %.1f MiB with %d idle clients: %.2f KiB each",
		mib(m.res.RSSBefore), mib(p1.RSS), len(m.viewers), m.res.KiBPerIdleConn)
	if m.cfg.MetricsURL == "" {
		return nil
	}
	// Read after the RSS, so the reading's own garbage is not in it.
	rt, err := readGoRuntime(ctx, m.api, m.cfg.MetricsURL)
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	n := float64(len(m.viewers))
	m.res.IdleGoroutinesPerConn = float64(rt.Goroutines-m.rtBefore.Goroutines) / n
	m.res.IdleStackKiBPerConn = float64(rt.StackBytes-m.rtBefore.StackBytes) / n / 1024
	m.res.IdleHeapKiBPerConn = float64(rt.HeapBytes-m.rtBefore.HeapBytes) / n / 1024
	m.logf("idle: per client %.2f goroutines, %.2f KiB of goroutine stack, %.2f KiB of heap in use",
		m.res.IdleGoroutinesPerConn, m.res.IdleStackKiBPerConn, m.res.IdleHeapKiBPerConn)
	return nil
}

// probes publishes one message at a time and waits until every client
// has it: each is a clean measure of one message to every subscriber.
func (m *measurement) probes(ctx context.Context) error {
	var ticks int64
	for seq := int64(1); seq <= int64(m.cfg.Probes); seq++ {
		p0, err := m.proc.usage()
		if err != nil {
			return fmt.Errorf("probe %d: %w", seq, err)
		}
		pubs0 := m.publications()
		w := newProbeWait(seq, len(m.viewers))
		m.fan.waiting.Store(w)
		sent := m.fan.now()
		if err := m.publish(ctx, probePayload(seq)); err != nil {
			return fmt.Errorf("probe %d: %w", seq, err)
		}
		acked := m.fan.now()
		if err := m.await(ctx, w); err != nil {
			return fmt.Errorf("probe %d: %w", seq, err)
		}
		p1, err := m.proc.usage()
		if err != nil {
			return fmt.Errorf("probe %d: %w", seq, err)
		}
		var last int64
		for _, v := range m.viewers {
			last = max(last, v.seqAt.Load())
		}
		m.res.LastViewerMS = append(m.res.LastViewerMS, ms(time.Duration(max(last-acked, 0))))
		// Centrifugo answers the publish once it has queued the message to
		// every subscriber, so most of the fan-out is before the ack.
		m.res.PublishAckMS = append(m.res.PublishAckMS, ms(time.Duration(acked-sent)))
		m.res.SentToLastMS = append(m.res.SentToLastMS, ms(time.Duration(max(last-sent, 0))))
		m.res.Deliveries += m.publications() - pubs0
		ticks += p1.CPUTicks - p0.CPUTicks
		m.res.Probes++
		m.logf("probe %d: acknowledged in %.2f ms, last of %d clients %.2f ms later, %d CPU ticks",
			seq, ms(time.Duration(acked-sent)), len(m.viewers), ms(time.Duration(max(last-acked, 0))), p1.CPUTicks-p0.CPUTicks)
	}
	m.res.ProbeCPUTicks = ticks
	if m.res.Deliveries > 0 {
		m.res.CPUUSPerDelivery = float64(ticks) / float64(m.cfg.ClockTick) / float64(m.res.Deliveries) * 1e6
	}
	return nil
}

// await waits until every client has the probe, the phase timeout at most.
func (m *measurement) await(ctx context.Context, w *probeWait) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.PhaseTimeout)
	defer cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		err := fmt.Errorf("%d of %d clients did not receive the publication within %s",
			w.remaining.Load(), len(m.viewers), m.cfg.PhaseTimeout)
		if n := m.fan.gone.Load(); n > 0 {
			err = fmt.Errorf("%w; %d connections ended, the first: %v", err, n, m.fan.goneErr)
		}
		return err
	}
}

func (m *measurement) publications() int64 {
	var n int64
	for _, v := range m.viewers {
		n += v.pubs.Load()
	}
	return n
}

// publish sends data to the channel with the server HTTP API and returns
// once the server has acknowledged it.
func (m *measurement) publish(ctx context.Context, data []byte) error {
	body, err := json.Marshal(struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}{m.cfg.Channel, data})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", m.cfg.URL+"/api/publish", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", m.cfg.APIKey)
	resp, err := m.api.Do(req)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("publish: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("publish: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	// The HTTP API answers errors with 200 and an error object.
	var ans struct {
		Error *protoError `json:"error"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return fmt.Errorf("publish: decode the answer %.80q: %w", b, err)
	}
	if ans.Error != nil {
		return fmt.Errorf("publish: %w", ans.Error)
	}
	return nil
}

// progress writes a line a second until the returned stop is called.
func (m *measurement) progress(line func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m.logf("%s", line())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// ms is d in milliseconds to two decimals, as votecast load reports them.
func ms(d time.Duration) float64 { return float64(d.Microseconds()/10) / 100 }

func mib(b int64) float64 { return float64(b) / (1 << 20) }
