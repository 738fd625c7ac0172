import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percents, fraction, formatNumber, formatRate, secondsLeft } from '../static/js/format.js';

test('percents add up to 100', () => {
  const cases = [
    [[1, 1, 1], [34, 33, 33]],
    [[0, 0], [0, 0]],
    [[], []],
    [[5], [100]],
    [[1, 2], [33, 67]],
    [[2, 1, 1], [50, 25, 25]],
    [[1, 0, 0, 0], [100, 0, 0, 0]],
    [[999, 1], [100, 0]],
  ];
  for (const [counts, want] of cases) assert.deepEqual(percents(counts), want, String(counts));
  for (let i = 0; i < 200; i++) {
    const c = Array.from({ length: 1 + (i % 7) }, (_, j) => (i * 7919 + j * 104729) % 1000);
    const p = percents(c);
    if (c.some((x) => x > 0)) assert.equal(p.reduce((a, b) => a + b, 0), 100, String(c));
  }
});

test('fraction is clamped', () => {
  assert.equal(fraction(0, 0), 0);
  assert.equal(fraction(5, 10), 0.5);
  assert.equal(fraction(20, 10), 1);
});

test('numbers and rates', () => {
  assert.equal(formatNumber(1234567, 'en'), '1,234,567');
  assert.equal(formatNumber(1234567, 'ko'), '1,234,567');
  assert.equal(formatRate(0), '0');
  assert.equal(formatRate(NaN), '0');
  assert.equal(formatRate(2.345), '2.3');
  assert.equal(formatRate(12345.6), '12,346');
});

test('secondsLeft rounds up and is at least 1', () => {
  assert.equal(secondsLeft(1000, 0), 1);
  assert.equal(secondsLeft(1001, 0), 2);
  assert.equal(secondsLeft(0, 500), 1);
});
