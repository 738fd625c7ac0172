// The server restarts while a vote is unacked: the page reconnects with
// backoff, resends the vote with the same client key, shows it as counted,
// and the totals count it once. A budget poll is used on purpose: there
// a second copy of the vote would be a second valid vote unless the key
// deduplicates it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage } from '../lib/browser.js';
import { waitFor } from '../lib/wait.js';
import { serverAndBrowser } from '../lib/setup.js';

let server;
let browser;

serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('an unacked vote is resent with the same key after a restart and counted once', async () => {
  const poll = await server.poll({ question: 'Spread 3 votes', options: ['Alpha', 'Beta'], votes_per_user: 3 });
  const p = await newPage(browser);
  const sent = [];
  let dropAcks = true;
  // Stand between page and server: forward everything, but lose the ack
  // of the first vote, as a phone losing its connection would.
  await p.routeWebSocket(/\/ws\?poll=/, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((m) => {
      sent.push(JSON.parse(m));
      upstream.send(m);
    });
    upstream.onMessage((m) => {
      if (dropAcks && JSON.parse(m).type === 'ack') return;
      ws.send(m);
    });
  });
  await p.goto(`${server.url}/p/${poll.id}`);
  await p.locator('.left', { hasText: '3 of 3 votes left' }).waitFor();

  await p.getByRole('button', { name: /Beta/ }).click();
  await p.locator('.status', { hasText: 'Sending' }).waitFor();
  // The server stored the vote; the page never heard so.
  await waitFor(async () => (await server.results(poll.id)).total === 1, { what: 'the vote to be counted by the server' });
  assert.equal(await p.locator('.status').textContent(), 'Sending…');

  dropAcks = false;
  await server.stop(); // graceful: the socket closes with 1001
  await p.locator('.conn', { hasText: 'Reconnecting' }).waitFor();
  await p.locator('.status', { hasText: 'Waiting for the connection' }).waitFor();
  await server.start(); // same port, same data
  await p.locator('.status', { hasText: 'Counted' }).waitFor({ timeout: 20000 });
  await p.locator('.conn').waitFor({ state: 'hidden' });

  const votes = sent.filter((f) => f.type === 'vote');
  assert.equal(votes.length, 2, 'the vote was sent twice');
  assert.equal(votes[0].id, votes[1].id, 'with the same client key');
  assert.deepEqual(votes[1], votes[0]);
  assert.equal((await server.results(poll.id)).total, 1, 'and counted once');
  await p.locator('.total', { hasText: '1 vote' }).waitFor();
  await p.locator('.left', { hasText: '2 of 3 votes left' }).waitFor();
  await p.context().close();
});

test('a vote cast while the server is down is sent when it is back', async () => {
  const poll = await server.poll({ question: 'Offline vote', options: ['Yes', 'No'] });
  const p = await newPage(browser);
  await p.goto(`${server.url}/p/${poll.id}`);
  await p.locator('.badge[data-state=open]').waitFor();
  await server.stop();
  await p.locator('.conn', { hasText: 'Reconnecting' }).waitFor();
  await p.getByRole('button', { name: /Yes/ }).click();
  await p.locator('.status', { hasText: 'Waiting for the connection' }).waitFor();
  await server.start();
  await p.locator('.status', { hasText: 'Counted' }).waitFor({ timeout: 20000 });
  // "Counted" is the durable append; the tally folds it a moment later.
  await waitFor(async () => JSON.stringify((await server.results(poll.id)).counts) === '[1,0]', { what: 'the server totals to be [1,0]' });
  await p.context().close();
});

test('a reload keeps the ballot: the page remembers the vote', async () => {
  const poll = await server.poll({ question: 'Reload me', options: ['One', 'Two'] });
  const p = await newPage(browser);
  await p.goto(`${server.url}/p/${poll.id}`);
  await p.getByRole('button', { name: /Two/ }).click();
  await p.locator('.status', { hasText: 'Counted' }).waitFor();
  await p.reload();
  await p.locator('.opt.chosen', { hasText: 'Two' }).waitFor();
  assert.equal(await p.getByRole('button', { name: /One/ }).getAttribute('aria-disabled'), 'true');
  await p.context().close();
});
