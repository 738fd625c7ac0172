import { test } from 'node:test';
import assert from 'node:assert/strict';
import { specErrors, cleanSpec } from '../static/js/pollform.js';
import { niceMax } from '../static/js/chart.js';

const ok = { question: 'Best dish?', options: ['김치찌개', 'Bibimbap'], votes_per_user: 1, allow_change: false, results: 'live' };

test('specErrors', () => {
  const cases = [
    [ok, []],
    [{ ...ok, question: '   ' }, ['errQuestion']],
    [{ ...ok, question: '가'.repeat(166) }, []], // 498 bytes of UTF-8
    [{ ...ok, question: '가'.repeat(167) }, ['errQuestion']], // 501 bytes
    [{ ...ok, options: ['one'] }, ['errOptions']],
    [{ ...ok, options: Array.from({ length: 33 }, (_, i) => `o${i}`) }, ['errOptions']],
    [{ ...ok, options: ['a', ''] }, ['errOption']],
    [{ ...ok, votes_per_user: 0 }, ['errVotes']],
    [{ ...ok, votes_per_user: 101 }, ['errVotes']],
    [{ ...ok, votes_per_user: 2.5 }, ['errVotes']],
  ];
  for (const [spec, want] of cases) assert.deepEqual(specErrors(spec).map((e) => e[0]), want, JSON.stringify(spec).slice(0, 60));
});

test('cleanSpec trims and drops empty trailing rows', () => {
  assert.deepEqual(cleanSpec({ ...ok, question: ' Q ', options: [' a ', 'b', '', ''] }).options, ['a', 'b']);
  assert.deepEqual(cleanSpec({ ...ok, options: ['', ''] }).options, ['', '']);
  assert.equal(cleanSpec({ ...ok, question: ' Q ' }).question, 'Q');
});

test('niceMax', () => {
  assert.equal(niceMax(0), 10);
  assert.equal(niceMax(11), 20);
  assert.equal(niceMax(120), 200);
  assert.equal(niceMax(499), 500);
  assert.equal(niceMax(5001), 10000);
});
