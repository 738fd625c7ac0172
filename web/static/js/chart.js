// chart: a small canvas line chart for the votes/s series (accepted, and
// dashed: every ack), redrawn on each sample (once a second). Colours come from the page's CSS variables, so
// it follows light and dark. Smaller than any charting library we could
// vendor, and all the dashboard needs.

export class RateChart {
  // labels: {from(minutes) -> text, now: text} for the time axis.
  constructor(canvas, windowMs, labels = { from: (n) => `-${n} min`, now: 'now' }) {
    this.canvas = canvas;
    this.windowMs = windowMs;
    this.labels = labels;
    this.points = [];
    new ResizeObserver(() => this.draw()).observe(canvas);
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.draw());
  }

  update(points) {
    this.points = points;
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const css = getComputedStyle(c);
    const accent = css.getPropertyValue('--accent').trim() || '#4f46e5';
    const muted = css.getPropertyValue('--muted').trim() || '#888';
    const line = css.getPropertyValue('--line').trim() || '#ddd';
    const pad = { l: 44, r: 8, t: 8, b: 18 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    const now = this.points.at(-1)?.t ?? Date.now();
    const max = niceMax(this.points.reduce((m, p) => Math.max(m, p.all, p.accepted), 0));
    // The time axis grows with the data, from one minute up to the window,
    // so the first seconds of a show are not a sliver at the right edge.
    const first = this.points[0]?.t ?? now;
    const span = Math.min(this.windowMs, Math.max(60000, now - first));
    const x = (t) => pad.l + pw * (1 - (now - t) / span);
    const y = (v) => pad.t + ph * (1 - v / max);

    g.font = '11px system-ui, sans-serif';
    g.fillStyle = muted;
    g.strokeStyle = line;
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (const f of [0, 0.5, 1]) {
      const yy = Math.round(y(max * f)) + 0.5;
      g.beginPath();
      g.moveTo(pad.l, yy);
      g.lineTo(w - pad.r, yy);
      g.stroke();
      g.fillText(String(Math.round(max * f)), pad.l - 6, yy);
    }
    g.textBaseline = 'alphabetic';
    g.textAlign = 'left';
    g.fillText(this.labels.from(Math.round(span / 60000)), pad.l, h - 4);
    g.textAlign = 'right';
    g.fillText(this.labels.now, w - pad.r, h - 4);

    if (this.points.length < 2) return;
    const series = (key) => {
      g.beginPath();
      this.points.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p[key])) : g.moveTo(x(p.t), y(p[key]))));
    };
    series('all');
    g.strokeStyle = muted;
    g.setLineDash([3, 3]);
    g.stroke();
    g.setLineDash([]);
    series('accepted');
    g.strokeStyle = accent;
    g.lineWidth = 2;
    g.stroke();
    g.lineTo(x(now), y(0));
    g.lineTo(x(this.points[0].t), y(0));
    g.closePath();
    g.globalAlpha = 0.15;
    g.fillStyle = accent;
    g.fill();
    g.globalAlpha = 1;
  }
}

// niceMax rounds a peak up to 1, 2 or 5 times a power of ten (at least 10).
export function niceMax(v) {
  if (!(v > 10)) return 10;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
