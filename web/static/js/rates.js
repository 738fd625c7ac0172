// rates: votes per second from the cumulative ack counters of /api/stats.
// The dashboard samples the counters about once a second; each sample
// after the first gives a rate per status. A counter that goes down means
// the server restarted: that sample starts a new baseline instead of a
// negative rate. Pure: times are given, not read.

export const STATUSES = ['accepted', 'duplicate', 'rejected', 'retry'];

export class RateSeries {
  constructor(windowMs = 5 * 60 * 1000) {
    this.windowMs = windowMs;
    this.last = null; // {t, acks}
    this.points = []; // {t, accepted, all}
  }

  // add records a sample taken at t (ms) and returns the new point, or
  // null for a baseline sample.
  add(t, acks = {}) {
    const cur = { t, acks: Object.fromEntries(STATUSES.map((s) => [s, Number(acks[s]) || 0])) };
    const prev = this.last;
    this.last = cur;
    if (!prev || t <= prev.t) return null;
    const dt = (t - prev.t) / 1000;
    const d = {};
    for (const s of STATUSES) {
      const diff = cur.acks[s] - prev.acks[s];
      if (diff < 0) return null; // restarted server: new baseline
      d[s] = diff / dt;
    }
    const p = { t, accepted: d.accepted, all: STATUSES.reduce((a, s) => a + d[s], 0) };
    this.points.push(p);
    while (this.points.length && this.points[0].t < t - this.windowMs) this.points.shift();
    return p;
  }

  current() { return this.points.at(-1)?.accepted ?? 0; }

  peak() { return this.points.reduce((m, p) => Math.max(m, p.accepted), 0); }
}

// CounterRate is the per-second rate of one cumulative counter (the
// waiting room's admitted count) over the last windowMs of samples. A
// counter that goes down starts a new baseline.
export class CounterRate {
  constructor(windowMs = 5000) {
    this.windowMs = windowMs;
    this.samples = []; // {t, n}
  }

  // add records n at t (ms) and returns the rate, or null until two
  // samples span some time.
  add(t, n) {
    n = Number(n) || 0;
    const last = this.samples.at(-1);
    if (last && (n < last.n || t < last.t)) this.samples = []; // restarted server, or a clock step
    if (this.samples.length === 0 || t > this.samples.at(-1).t) this.samples.push({ t, n });
    while (this.samples.length > 2 && this.samples[1].t <= t - this.windowMs) this.samples.shift();
    const first = this.samples[0];
    const cur = this.samples.at(-1);
    return cur.t > first.t ? ((cur.n - first.n) * 1000) / (cur.t - first.t) : null;
  }
}
