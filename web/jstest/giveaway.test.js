import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outcome, giveawayOf, entryOf, isClaimCode, fetchOutcome, outcomePath, WON, LOST, PENDING, NOT_ENTERED } from '../static/js/giveaway.js';
import { giveawaySpec } from '../static/js/pollform.js';

// frame builds a results frame of a giveaway with 3 prizes.
const frame = (state, g) => ({ type: 'results', poll: 'p1', state, giveaway: { prizes: 3, winners: 0, left: 3, ...g } });
const soldOut = (cutoff, more = {}) => ({ winners: 3, left: 0, sold_out: true, cutoff, ...more });

test('outcome: an entrant\'s receipt against the totals frame', () => {
  const cases = [
    // name, frame, receipt, want
    ['no receipt', frame('open', soldOut(40)), null, NOT_ENTERED],
    ['a bad receipt', frame('open', soldOut(40)), { seq: 0, option: 1 }, NOT_ENTERED],
    ['no totals yet', null, { seq: 5, option: 0 }, PENDING],
    ['a frame without giveaway', { type: 'results', state: 'open' }, { seq: 5, option: 0 }, PENDING],
    ['open, prizes left', frame('open', { winners: 2, left: 1 }), { seq: 5, option: 0 }, PENDING],
    ['closing, prizes left', frame('closing', { winners: 2, left: 1 }), { seq: 5, option: 0 }, PENDING],
    ['sold out: before the cutoff', frame('open', soldOut(40)), { seq: 12, option: 1 }, WON],
    ['sold out: at the cutoff', frame('open', soldOut(40)), { seq: 40, option: 1 }, WON],
    ['sold out: after the cutoff', frame('open', soldOut(40)), { seq: 41, option: 1 }, LOST],
    ['sold out quiz: right answer, before', frame('open', soldOut(40, { answer: 2 })), { seq: 12, option: 2 }, WON],
    ['sold out quiz: wrong answer, before', frame('open', soldOut(40, { answer: 2 })), { seq: 12, option: 0 }, LOST],
    ['sold out quiz: right answer, after', frame('open', soldOut(40, { answer: 2 })), { seq: 41, option: 2 }, LOST],
    ['sold out quiz: answer 0', frame('open', soldOut(40, { answer: 0 })), { seq: 3, option: 0 }, WON],
    ['sold out and closed', frame('closed', soldOut(40, { answer: 2 })), { seq: 40, option: 2 }, WON],
    ['sold out and closed, after', frame('closed', soldOut(40, { answer: 2 })), { seq: 99, option: 2 }, LOST],
    ['closed before selling out: every entry won', frame('closed', { winners: 1, left: 2 }), { seq: 999, option: 1 }, WON],
    ['closed quiz before selling out: right', frame('closed', { winners: 1, left: 2, answer: 1 }), { seq: 999, option: 1 }, WON],
    ['closed quiz before selling out: wrong', frame('closed', { winners: 1, left: 2, answer: 1 }), { seq: 2, option: 0 }, LOST],
    ['sold out without a cutoff (never sent)', frame('open', { winners: 3, left: 0, sold_out: true }), { seq: 2, option: 0 }, PENDING],
    ['a cutoff that is not a number', frame('open', soldOut('x')), { seq: 2, option: 0 }, PENDING],
  ];
  for (const [name, f, r, want] of cases) assert.equal(outcome(f, r), want, name);
});

test('giveawayOf checks the numbers', () => {
  assert.equal(giveawayOf({ state: 'open' }), null);
  assert.equal(giveawayOf(null), null);
  const cases = [
    [{ prizes: 2, winners: 1, left: 1 }, { prizes: 2, winners: 1, left: 1, soldOut: false, cutoff: 0, answer: null }],
    [{ prizes: 2, winners: 2, left: 0, sold_out: true, cutoff: 9, answer: 1 }, { prizes: 2, winners: 2, left: 0, soldOut: true, cutoff: 9, answer: 1 }],
    [{ prizes: 5, winners: 2 }, { prizes: 5, winners: 2, left: 3, soldOut: false, cutoff: 0, answer: null }],
    [{ prizes: 2, winners: -1, left: 'x', sold_out: 'yes', answer: -1 }, { prizes: 2, winners: 0, left: 0, soldOut: false, cutoff: 0, answer: null }],
    [{ prizes: 2, winners: 7, left: 0 }, { prizes: 2, winners: 2, left: 0, soldOut: false, cutoff: 0, answer: null }],
  ];
  for (const [g, want] of cases) assert.deepEqual(giveawayOf({ giveaway: g }), want, JSON.stringify(g));
});

test('entryOf is the first receipt', () => {
  assert.equal(entryOf([]), null);
  assert.equal(entryOf(undefined), null);
  assert.deepEqual(entryOf([{ seq: 3, option: 1 }, { seq: 9, option: 0 }]), { seq: 3, option: 1 });
});

test('isClaimCode: three non-empty base64url parts', () => {
  const cases = [
    ['eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnLW5h_dHVyZQ', true],
    ['a.b.c', true],
    ['a.b', false],
    ['a..c', false],
    ['a.b.c.d', false],
    ['a.b.c=', false],
    ['', false],
    [null, false],
  ];
  for (const [s, want] of cases) assert.equal(isClaimCode(s), want, String(s));
});

// fakeFetch answers one request with status and body (a string: not JSON),
// or throws (status 0), and records the URL and options asked for.
function fakeFetch(status, body) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url, init });
    if (status === 0) throw new TypeError('network');
    return { status, ok: status >= 200 && status < 300, json: async () => (typeof body === 'string' ? JSON.parse(body) : body) };
  };
  f.calls = calls;
  return f;
}

test('fetchOutcome: the server\'s answers', async () => {
  const claim = 'aaa.bbb.ccc';
  const cases = [
    [200, { won: true, entry: 12, rank: 2, claim }, { won: true, entry: 12, rank: 2, claim }],
    [200, { won: false }, { won: false }],
    [409, { error: 'the giveaway is not decided yet' }, { undecided: true }],
    [401, { error: 'a viewer token is required' }, { error: 401 }],
    [404, { error: 'giveaway not found' }, { error: 404 }],
    [503, 'not json', { error: 503 }],
    [200, { won: true, rank: 1, claim: 'not-a-code' }, { error: 200 }],
    [200, { nothing: 1 }, { error: 200 }],
    [0, null, { error: 0 }],
  ];
  for (const [status, body, want] of cases) {
    assert.deepEqual(await fetchOutcome('p1', '', fakeFetch(status, body)), want, `${status} ${JSON.stringify(body)}`);
  }
});

test('fetchOutcome asks as the viewer, uncached', async () => {
  const f = fakeFetch(200, { won: false });
  await fetchOutcome('p/1', '?token=a.b.c', f);
  assert.equal(f.calls[0].url, '/api/polls/p%2F1/outcome?token=a.b.c');
  assert.equal(f.calls[0].init.cache, 'no-store');
  assert.equal(outcomePath('x', '?viewer=v'), '/api/polls/x/outcome?viewer=v');
  assert.equal(outcomePath('x'), '/api/polls/x/outcome');
});

test('giveawaySpec: what the form sends', () => {
  const base = { question: 'Q', options: ['a', 'b', 'c'], votes_per_user: 3, allow_change: true, results: 'live' };
  const cases = [
    ['a poll sends no giveaway fields', { ...base, kind: 'poll', prizes: '5', answer: 1 }, base],
    ['a giveaway without a quiz', { ...base, kind: 'giveaway', prizes: '5', answer: null },
      { ...base, kind: 'giveaway', prizes: 5, votes_per_user: 1, allow_change: false }],
    ['a quiz', { ...base, kind: 'giveaway', prizes: '2', answer: 0 },
      { ...base, kind: 'giveaway', prizes: 2, answer: 0, votes_per_user: 1, allow_change: false }],
    ['prizes 0 goes to the server as typed', { ...base, kind: 'giveaway', prizes: '0', answer: null },
      { ...base, kind: 'giveaway', prizes: 0, votes_per_user: 1, allow_change: false }],
    ['prizes empty', { ...base, kind: 'giveaway', prizes: ' ', answer: null },
      { ...base, kind: 'giveaway', prizes: null, votes_per_user: 1, allow_change: false }],
    ['prizes not a number', { ...base, kind: 'giveaway', prizes: 'lots', answer: null },
      { ...base, kind: 'giveaway', prizes: null, votes_per_user: 1, allow_change: false }],
    ['a fraction goes as is', { ...base, kind: 'giveaway', prizes: '1.5', answer: null },
      { ...base, kind: 'giveaway', prizes: 1.5, votes_per_user: 1, allow_change: false }],
  ];
  for (const [name, values, want] of cases) assert.deepEqual(giveawaySpec(values), want, name);
});
