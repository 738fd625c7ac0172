// The server restarts while votes are unanswered: the client reconnects
// (as the same anonymous viewer), sends them again under the same keys,
// and the server answers duplicate "already counted": counted once. The
// acks of the first sends are dropped on the wire, so the test knows the
// server holds each vote while the client has no answer, every time. A
// budget poll is there because a copy under a new key would be a second
// valid vote; a one-vote poll, because there its dedup key is the viewer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, same } from './lib/setup.mjs';
import { lossySocket } from './lib/socket.mjs';
import { record, waitFor, within } from './lib/wait.mjs';

const env = useServer();

const client = env.client;


test('votes unanswered across a server restart are sent again under their keys and counted once', async () => {
  const budget = await env.server.poll({ question: 'Spread 3', options: ['Alpha', 'Beta'], votes_per_user: 3 });
  const one = await env.server.poll({ question: 'One vote', options: ['Yes', 'No'] });
  const viewers = [budget, one].map((poll) => {
    const { WebSocket, wire } = lossySocket();
    const c = client(poll.id, { WebSocket });
    return { poll, c, wire, states: record(c, 'state'), totals: record(c, 'totals') };
  });
  for (const v of viewers) await v.states.until((s) => s.state === 'open');

  for (const v of viewers) v.wire.dropAcks = true;
  const answers = viewers.map((v) => v.c.vote(1));
  for (const v of viewers) {
    await waitFor(async () => (await env.server.results(v.poll.id)).total === 1, { what: `poll ${v.poll.id} to count the vote` });
    assert.equal(v.c.pending().length, 1, 'the client has no answer');
  }
  for (const v of viewers) v.wire.dropAcks = false;

  await env.server.stop(); // graceful: every socket is closed with 1001
  for (const v of viewers) {
    const down = await v.states.until((s) => s.state === 'closed');
    assert.deepEqual([down.code, down.reason], [1001, 'server shutting down']);
    assert.ok(down.retryInMs > 0);
    assert.deepEqual(v.c.pending(), [{ key: v.wire.sent[0].frame.id, option: 1, lost: true }]);
  }
  await env.server.start(); // same port, same data

  for (const [i, v] of viewers.entries()) {
    const r = await within(answers[i], 20000, 'the answer to the resend');
    assert.deepEqual(
      { status: r.status, reason: r.reason, recorded: r.recorded, sends: r.sends },
      { status: 'duplicate', reason: 'already counted', recorded: true, sends: 2 },
    );
    assert.ok(r.seq > 0, 'with its receipt');
    const votes = v.wire.sent.map((s) => s.frame).filter((f) => f.type === 'vote');
    assert.equal(votes.length, 2, 'sent twice');
    assert.deepEqual(votes[1], votes[0], 'the same frame, key and all');
    assert.equal(v.wire.urls.length, 2);
    assert.ok(v.wire.urls[1].endsWith(`&viewer=${encodeURIComponent(v.c.viewer)}`), `the same viewer: ${v.wire.urls[1]}`);
    await v.totals.until((t) => same(t.counts, [0, 1]) && t.total === 1, { timeout: 15000 });
    assert.deepEqual((await env.server.results(v.poll.id)).counts, [0, 1], 'counted once');
  }
});

test('a vote cast while the server is down is sent once it is back', async () => {
  const poll = await env.server.poll({ question: 'Offline vote', options: ['Yes', 'No'] });
  const c = client(poll.id);
  const states = record(c, 'state');
  const totals = record(c, 'totals');
  await states.until((s) => s.state === 'open');
  await env.server.stop();
  await states.until((s) => s.state === 'closed');
  const answer = c.vote(0);
  assert.deepEqual(c.pending().map((p) => [p.option, p.lost]), [[0, false]]);
  await env.server.start();
  const r = await within(answer, 20000, 'the answer');
  assert.deepEqual([r.status, r.recorded, r.sends], ['accepted', true, 1]);
  await totals.until((t) => same(t.counts, [1, 0]), { timeout: 15000 });
});
