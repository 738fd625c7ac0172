import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateSeries, CounterRate } from '../static/js/rates.js';

test('rates from cumulative counters', () => {
  const s = new RateSeries(60000);
  assert.equal(s.add(0, { accepted: 10, duplicate: 0, rejected: 0, retry: 0 }), null);
  assert.deepEqual(s.add(1000, { accepted: 110, duplicate: 5, rejected: 3, retry: 2 }), { t: 1000, accepted: 100, all: 110 });
  assert.deepEqual(s.add(3000, { accepted: 310, duplicate: 5, rejected: 3, retry: 2 }), { t: 3000, accepted: 100, all: 100 });
  assert.equal(s.current(), 100);
  assert.equal(s.peak(), 100);
});

test('a counter going down (server restart) starts a new baseline', () => {
  const s = new RateSeries();
  s.add(0, { accepted: 500 });
  assert.equal(s.add(1000, { accepted: 3 }), null);
  assert.equal(s.add(2000, { accepted: 13 }).accepted, 10);
});

test('old points fall out of the window; missing fields count as 0', () => {
  const s = new RateSeries(5000);
  for (let t = 0; t <= 10000; t += 1000) s.add(t, { accepted: t / 10 });
  assert.ok(s.points.every((p) => p.t >= 5000));
  assert.equal(s.points.length, 6);
  assert.equal(s.add(10000, {}), null); // same time: ignored
});

test('CounterRate: per second over the window; a counter going down starts again', () => {
  const r = new CounterRate(5000);
  assert.equal(r.add(0, 0), null, 'one sample');
  assert.equal(r.add(0, 3), null, 'same time: no span');
  assert.equal(r.add(1000, 10), 10);
  assert.equal(r.add(2000, 30), 15, '30 over 2 s');
  for (let t = 3000; t <= 10000; t += 1000) r.add(t, 30);
  assert.equal(r.add(11000, 30), 0, 'old samples fell out of the window');
  assert.equal(r.add(12000, 2), null, 'restarted server: a new baseline');
  assert.equal(r.add(13000, 7), 5);
});
