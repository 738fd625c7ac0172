// A poll whose results are hidden: while it is open every totals frame
// says hidden and carries no counts and no total; at close every client
// is sent the final totals over its socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/setup.mjs';
import { record, waitFor, within } from './lib/wait.mjs';

const env = useServer();

test('hidden results: no counts on the wire until the close, then the exact final totals', async () => {
  const poll = await env.server.poll({ question: 'Secret ballot', options: ['Left', 'Right', 'Centre'], results: 'hidden' });
  const viewers = [0, 1, 2].map(() => {
    const c = env.client(poll.id);
    return { c, totals: record(c, 'totals') };
  });
  const answers = await within(Promise.all(viewers.map((v, i) => v.c.vote([0, 0, 1][i]))), 10000, 'three answers');
  assert.deepEqual(answers.map((r) => r.status), ['accepted', 'accepted', 'accepted']);
  // The producer sees them counted; viewers see nothing of it.
  await waitFor(async () => (await env.server.results(poll.id)).total === 3, { what: 'the server to count three votes' });
  const anon = await fetch(`${env.server.url}/api/polls/${poll.id}/results`);
  assert.equal(anon.status, 403);
  for (const v of viewers) {
    assert.ok(v.totals.length > 0, 'a totals frame on connect');
    for (const t of v.totals) {
      assert.deepEqual(t, { type: 'results', poll: poll.id, state: 'open', hidden: true });
    }
    assert.equal(v.c.totals.hidden, true);
  }

  await env.server.closePoll(poll.id);
  for (const v of viewers) {
    const final = await v.totals.until((t) => t.state === 'closed', { timeout: 5000 });
    assert.deepEqual(final, { type: 'results', poll: poll.id, state: 'closed', hidden: false, counts: [2, 1, 0], total: 3 });
    const early = v.totals.slice(0, v.totals.indexOf(final));
    assert.ok(early.every((t) => t.hidden && t.counts === undefined && t.total === undefined), JSON.stringify(early));
  }
});
