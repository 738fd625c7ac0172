import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../clients/js/src/backoff.js';

test('delays grow, stay within [ceiling/2, ceiling], cap, and reset', () => {
  for (const r of [0, 0.5, 0.999]) {
    const b = new Backoff({ base: 500, cap: 8000, random: () => r });
    const got = Array.from({ length: 7 }, () => b.next());
    const ceilings = [500, 1000, 2000, 4000, 8000, 8000, 8000];
    got.forEach((d, i) => {
      assert.ok(d >= ceilings[i] / 2 && d <= ceilings[i], `attempt ${i}: ${d} for r=${r}`);
    });
    b.reset();
    assert.ok(b.next() <= 500);
  }
});

test('jitter spreads a crowd', () => {
  let seed = 1;
  const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const delays = new Set(Array.from({ length: 1000 }, () => new Backoff({ random: rand }).next()));
  assert.ok(delays.size > 200, `only ${delays.size} distinct first delays`);
});
