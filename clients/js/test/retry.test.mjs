// A retry answer: the server (--vote-rate 1: one frame a second per
// connection, a burst of 4) answers the fifth and sixth of six votes sent
// at once retry "too many votes, slow down" with retry_after_ms 1000. The
// client sends each again under its key no sooner than that, until every
// vote is accepted; the totals count each vote once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/setup.mjs';
import { lossySocket } from './lib/socket.mjs';
import { record, within } from './lib/wait.mjs';

const env = useServer({ extraArgs: ['--vote-rate', '1'] });

test('votes answered retry are sent again under their keys after retry_after_ms, and counted once', async () => {
  const poll = await env.server.poll({ question: 'Six of ten', options: ['A', 'B'], votes_per_user: 10 });
  const { WebSocket, wire } = lossySocket();
  const client = env.client(poll.id, { WebSocket });
  const acks = [];
  client.on('ack', (a) => acks.push({ at: Date.now(), a, sentBefore: wire.sent.length }));
  const totals = record(client, 'totals');
  const results = await within(Promise.all([0, 1, 2, 3, 4, 5].map((i) => client.vote(i % 2))), 15000, 'six answers');

  assert.deepEqual(results.map((r) => r.status), Array(6).fill('accepted'));
  const retries = acks.filter(({ a }) => a.status === 'retry');
  assert.ok(retries.length >= 2, `at least the fifth and sixth were told to retry: ${JSON.stringify(acks.map((x) => x.a))}`);
  for (const { at, a, sentBefore } of retries) {
    assert.deepEqual([a.reason, a.retry_after_ms], ['too many votes, slow down', 1000]);
    const next = wire.sent.slice(sentBefore).find((s) => s.frame.id === a.id);
    assert.ok(next, `vote ${a.id} was sent again`);
    assert.ok(next.at - at >= 1000, `vote ${a.id} was sent again after ${next.at - at} ms, before retry_after_ms`);
  }
  for (const r of results) {
    const sends = wire.sent.filter((s) => s.frame.id === r.key);
    assert.equal(sends.length, r.sends);
    assert.ok(sends.every((s) => JSON.stringify(s.frame) === JSON.stringify(sends[0].frame)), 'the same frame each time');
  }
  assert.ok(results.filter((r) => r.sends > 1).length >= 2);
  await totals.until((t) => t.total === 6 && JSON.stringify(t.counts) === '[3,3]');
  assert.deepEqual((await env.server.results(poll.id)).counts, [3, 3]);
});
