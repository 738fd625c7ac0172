// format: numbers and percentages for totals. Pure functions.

// percents turns counts into whole percentages that add up to exactly 100
// (largest remainder method), so the bars never read 33+33+33. All zeros
// (or no votes) give zeros.
export function percents(counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return counts.map(() => 0);
  const exact = counts.map((c) => (c * 100) / total);
  const floors = exact.map(Math.floor);
  let rest = 100 - floors.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => [x - floors[i], i])
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (rest <= 0) break;
    floors[i]++;
    rest--;
  }
  return floors;
}

// fraction is count/max for a bar's length, 0 when there is nothing yet.
export function fraction(count, max) {
  return max > 0 ? Math.min(1, Math.max(0, count / max)) : 0;
}

const numberFormats = new Map();

// formatNumber groups digits the way lang writes them (1,234).
export function formatNumber(n, lang = 'en') {
  let f = numberFormats.get(lang);
  if (!f) {
    f = new Intl.NumberFormat(lang === 'ko' ? 'ko-KR' : 'en-US');
    numberFormats.set(lang, f);
  }
  return f.format(n);
}

// formatRate shows a votes/s figure: one decimal below 10, whole above.
export function formatRate(r, lang = 'en') {
  if (!Number.isFinite(r) || r <= 0) return '0';
  return r < 10 ? (Math.round(r * 10) / 10).toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-US') : formatNumber(Math.round(r), lang);
}

// secondsLeft is the whole seconds (at least 1) until at, for countdowns.
export function secondsLeft(at, now) {
  return Math.max(1, Math.ceil((at - now) / 1000));
}

// waitParts turns an expected wait in seconds into the i18n key and number
// that say it: a few seconds exactly, then in fives, "less than a minute",
// minutes (in fives past ten), "more than an hour". A negative wait is
// unknown: the line does not move.
export function waitParts(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return { key: 'waitUnknown' };
  if (seconds < 10) return { key: 'waitSeconds', n: Math.max(1, Math.ceil(seconds)) };
  if (seconds < 45) return { key: 'waitSeconds', n: Math.round(seconds / 5) * 5 };
  if (seconds < 60) return { key: 'waitUnderMinute' };
  if (seconds < 90) return { key: 'waitMinute1' };
  if (seconds < 3600) {
    const m = seconds / 60;
    return { key: 'waitMinutes', n: Math.min(60, m < 10 ? Math.round(m) : Math.round(m / 5) * 5) };
  }
  return { key: 'waitHours' };
}
