// A closed poll: a new vote is rejected "poll is closed"; the same vote
// sent again after the close by the viewer whose vote counted is a
// duplicate "already counted", so a resend is never told it was refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer } from './lib/setup.mjs';
import { record, within } from './lib/wait.mjs';

const env = useServer();

const client = env.client;

const brief = (r) => ({ status: r.status, reason: r.reason, recorded: r.recorded });

test('after the close: a new vote is rejected "poll is closed", a resend of a counted one is "already counted"', async () => {
  const poll = await env.server.poll({ question: 'Closing soon', options: ['Early', 'Late'] });
  const early = client(poll.id);
  const counted = await within(early.vote(0), 10000, 'the vote before the close');
  assert.equal(counted.status, 'accepted');
  const viewer = early.viewer;
  assert.ok(viewer, 'the anonymous viewer has its sealed id');
  early.close();

  await env.server.closePoll(poll.id);

  const late = client(poll.id);
  const totals = record(late, 'totals');
  const refused = await within(late.vote(1), 10000, 'a vote after the close');
  assert.deepEqual(brief(refused), { status: 'rejected', reason: 'poll is closed', recorded: false });
  assert.equal(refused.seq, undefined);

  // The viewer who voted comes back (a new connection, the same sealed id)
  // and sends its vote again under its key, then a new one.
  const back = client(poll.id, { viewer });
  const resend = await within(back.vote(0, { key: counted.key }), 10000, 'the resend after the close');
  assert.deepEqual(brief(resend), { status: 'duplicate', reason: 'already counted', recorded: true });
  const another = await within(back.vote(1), 10000, 'a new vote of the same viewer');
  assert.deepEqual(brief(another), { status: 'rejected', reason: 'poll is closed', recorded: false });

  const final = await totals.until((t) => t.state === 'closed');
  assert.deepEqual(final.counts, [1, 0]);
  assert.equal(final.total, 1);
  assert.deepEqual((await env.server.results(poll.id)).counts, [1, 0]);
});
