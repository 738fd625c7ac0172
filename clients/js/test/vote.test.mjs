// Votes against a real `votecast serve`: each vote's final answer with its
// receipt, the exact totals every viewer is shown, and the exact reason of
// every refusal the server gives a vote it can never count.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, same } from './lib/setup.mjs';
import { record, waitFor, within } from './lib/wait.mjs';

const env = useServer();

const client = env.client;


test('three viewers vote: each is accepted with a receipt, and everyone sees [2,1,0]', async () => {
  const poll = await env.server.poll({ question: 'Best goal?', options: ['Kim', 'Son', 'Lee'] });
  const [a, b, c] = [client(poll.id), client(poll.id), client(poll.id)];
  const seen = [a, b, c].map((x) => record(x, 'totals'));
  const results = await within(Promise.all([a.vote(0), b.vote(1), c.vote(0)]), 10000, 'three answers');
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, 'accepted', JSON.stringify(r));
    assert.equal(r.reason, '');
    assert.equal(r.recorded, true);
    assert.equal(r.sends, 1);
    assert.equal(r.option, [0, 1, 0][i]);
    assert.ok(Number.isSafeInteger(r.seq) && r.seq > 0, `receipt ${r.seq}`);
  }
  assert.equal(new Set(results.map((r) => r.seq)).size, 3, 'three receipts');
  for (const s of seen) {
    const t = await s.until((x) => same(x.counts, [2, 1, 0]));
    assert.deepEqual(t, { type: 'results', poll: poll.id, state: 'open', hidden: false, counts: [2, 1, 0], total: 3 });
  }
  assert.deepEqual((await env.server.results(poll.id)).counts, [2, 1, 0]);

  // One vote each: a second is a duplicate "no votes left", not counted.
  const again = await within(a.vote(2), 10000, 'the second vote');
  assert.deepEqual(
    { status: again.status, reason: again.reason, recorded: again.recorded },
    { status: 'duplicate', reason: 'no votes left', recorded: false },
  );
  assert.equal(a.pending().length, 0);
  assert.deepEqual((await env.server.results(poll.id)).counts, [2, 1, 0]);
});

test('a budget poll adds the counts each vote puts on an option', async () => {
  const poll = await env.server.poll({ question: 'Spread 5', options: ['A', 'B'], votes_per_user: 5 });
  const a = client(poll.id);
  const seen = record(a, 'totals');
  const r1 = await within(a.vote(1, { count: 2 }), 10000, 'the first vote');
  const r2 = await within(a.vote(0, { count: 3 }), 10000, 'the second vote');
  assert.deepEqual([r1.status, r1.count, r2.status, r2.count], ['accepted', 2, 'accepted', 3]);
  const r3 = await within(a.vote(0, { count: 1 }), 10000, 'a sixth vote');
  assert.deepEqual([r3.status, r3.reason], ['duplicate', 'no votes left']);
  await seen.until((t) => same(t.counts, [3, 2]) && t.total === 5);
});

test('votes the server can never count are rejected with its exact reason', async () => {
  const one = await env.server.poll({ question: 'One vote', options: ['A', 'B', 'C'] });
  const budget = await env.server.poll({ question: 'Three votes', options: ['A', 'B'], votes_per_user: 3 });
  const draft = await env.server.poll({ question: 'Not yet', options: ['A', 'B'] }, { open: false });
  const cases = [
    [one.id, 3, {}, 'no such option'],
    [one.id, 0, { count: 2 }, 'count must be 1'],
    [budget.id, 0, { count: 4 }, 'count is more than your votes'],
    [budget.id, 0, { count: 0 }, 'count must be at least 1'],
    [draft.id, 0, {}, 'poll is not open yet'],
  ];
  for (const [poll, option, opts, reason] of cases) {
    const r = await within(client(poll).vote(option, opts), 10000, `the answer "${reason}"`);
    assert.deepEqual({ status: r.status, reason: r.reason, recorded: r.recorded }, { status: 'rejected', reason, recorded: false });
  }
  assert.deepEqual((await env.server.results(one.id)).counts, [0, 0, 0]);
  assert.deepEqual((await env.server.results(budget.id)).counts, [0, 0]);
});

test('a frame the server would refuse as malformed is refused before it is sent', async () => {
  const poll = await env.server.poll({ question: 'Local checks', options: ['A', 'B'] });
  const a = client(poll.id);
  await assert.rejects(a.vote(32), RangeError);
  await assert.rejects(a.vote(1.5), RangeError);
  await assert.rejects(a.vote(0, { count: 101 }), RangeError);
  await assert.rejects(a.vote(0, { key: 'no spaces' }), TypeError);
  await assert.rejects(a.vote(0, { key: 'k'.repeat(65) }), TypeError);
  await waitFor(() => a.state === 'open', { what: 'the connection' });
  assert.equal(a.pending().length, 0);
});
