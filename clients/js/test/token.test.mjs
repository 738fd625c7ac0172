// Partner-signed viewers: with a viewer secret the server knows a viewer
// by the sub of its token (HS256, minted here as a partner's backend
// would), on any connection. A token function is asked for a fresh token
// on every connection; a connection without a token is refused before it
// opens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { useServer } from './lib/setup.mjs';
import { lossySocket } from './lib/socket.mjs';
import { record, within } from './lib/wait.mjs';

const SECRET = 'js-client-viewer-secret-0123456789abcdef';
const env = useServer({ env: { VOTECAST_VIEWER_SECRET: SECRET } });

const b64url = (x) => Buffer.from(x).toString('base64url');

// mint signs a viewer token for sub, valid for ten minutes.
function mint(sub) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub, iat: now, exp: now + 600 }));
  const sig = createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

const client = env.client;

test('a viewer is its token: one vote per sub across connections, a fresh token per connection', async () => {
  const poll = await env.server.poll({ question: 'Signed in', options: ['A', 'B'] });
  let minted = 0;
  const { WebSocket, wire } = lossySocket();
  const a = client(poll.id, { WebSocket, token: () => (minted++, mint('fan-1')) });
  const viewers = record(a, 'viewer');
  const states = record(a, 'state');
  const r = await within(a.vote(0), 10000, 'the first vote');
  assert.deepEqual([r.status, r.recorded], ['accepted', true]);
  assert.equal(viewers.length, 0, 'no anonymous id with a token');
  assert.equal(a.viewer, '');

  // The same sub on another connection is the same viewer.
  const b = client(poll.id, { token: mint('fan-1') });
  const again = await within(b.vote(1), 10000, 'the second connection’s vote');
  assert.deepEqual([again.status, again.reason, again.recorded], ['duplicate', 'already voted', false]);

  // A reconnect asks for a new token.
  await env.server.stop();
  await env.server.start();
  await states.until((s, i) => s.state === 'open' && states.slice(0, i).some((x) => x.state === 'closed'), { timeout: 15000 });
  assert.equal(minted, 2);
  assert.equal(wire.urls.length, 2);
  assert.notEqual(new URL(wire.urls[1]).searchParams.get('token'), null);
  assert.deepEqual((await env.server.results(poll.id)).counts, [1, 0]);
});

test('without a token the connection is refused before it opens, and tried again later', async () => {
  const poll = await env.server.poll({ question: 'No token', options: ['A', 'B'] });
  const c = client(poll.id, {});
  const states = record(c, 'state');
  const down = await states.until((s) => s.state === 'closed');
  assert.equal(down.code, 1006);
  assert.ok(down.retryInMs > 0, 'a reconnect is scheduled');
  assert.ok(!states.some((s) => s.state === 'open'));
  c.close();
  assert.deepEqual(states.at(-1), { state: 'closed', code: 1000, reason: 'closed by the client' });
});
