import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percents, fraction, formatNumber, formatRate, secondsLeft, waitParts } from '../static/js/format.js';

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

test('waitParts: seconds, fives, under a minute, minutes, unknown', () => {
  const cases = [
    [-1, { key: 'waitUnknown' }],
    [NaN, { key: 'waitUnknown' }],
    [0, { key: 'waitSeconds', n: 1 }],
    [0.2, { key: 'waitSeconds', n: 1 }],
    [3.4, { key: 'waitSeconds', n: 4 }],
    [9.9, { key: 'waitSeconds', n: 10 }],
    [12, { key: 'waitSeconds', n: 10 }],
    [13, { key: 'waitSeconds', n: 15 }],
    [44, { key: 'waitSeconds', n: 45 }],
    [45, { key: 'waitUnderMinute' }],
    [59, { key: 'waitUnderMinute' }],
    [60, { key: 'waitMinute1' }],
    [89, { key: 'waitMinute1' }],
    [90, { key: 'waitMinutes', n: 2 }],
    [9 * 60, { key: 'waitMinutes', n: 9 }],
    [12 * 60, { key: 'waitMinutes', n: 10 }],
    [13 * 60, { key: 'waitMinutes', n: 15 }],
    [3599, { key: 'waitMinutes', n: 60 }],
    [3600, { key: 'waitHours' }],
  ];
  for (const [s, want] of cases) assert.deepEqual(waitParts(s), want, `${s} s`);
});
