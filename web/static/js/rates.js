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
