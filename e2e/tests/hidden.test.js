// Hidden results stay hidden while the poll is open; at close every page
// gets the final totals over its WebSocket, with no HTTP request at all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage } from '../lib/browser.js';
import { serverAndBrowser } from '../lib/setup.js';

let server;
let browser;

serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('hidden until close, then final totals on every page with zero requests', async () => {
  const poll = await server.poll({ question: 'Secret ballot', options: ['Left', 'Right', 'Centre'], results: 'hidden' });
  const pages = [];
  for (let i = 0; i < 3; i++) {
    const p = await newPage(browser);
    p.received = [];
    p.on('websocket', (ws) => ws.on('framereceived', (f) => p.received.push(JSON.parse(f.payload))));
    await p.goto(`${server.url}/p/${poll.id}`);
    await p.locator('.note', { hasText: 'Results are shown when voting closes.' }).waitFor();
    pages.push(p);
  }
  await pages[0].getByRole('button', { name: /Left/ }).click();
  await pages[1].getByRole('button', { name: /Left/ }).click();
  await pages[2].getByRole('button', { name: /Right/ }).click();
  for (const p of pages) await p.locator('.status', { hasText: 'Counted' }).waitFor();

  // Nothing leaks while open: no numbers on the page, none on the wire,
  // and the public results endpoint refuses.
  for (const p of pages) {
    assert.equal(await p.locator('.num:visible').count(), 0);
    assert.equal(await p.locator('.total').isVisible(), false);
    const results = p.received.filter((f) => f.type === 'results');
    assert.ok(results.length > 0);
    assert.ok(results.every((f) => f.hidden === true && !('counts' in f) && !('total' in f)), JSON.stringify(results));
  }
  const anon = await fetch(`${server.url}/api/polls/${poll.id}/results`);
  assert.equal(anon.status, 403);

  // Close; from here on, count every HTTP request the pages make.
  const requests = [];
  for (const p of pages) p.on('request', (r) => requests.push(r.url()));
  await server.api('POST', `/api/polls/${poll.id}/close`);
  for (const p of pages) {
    await p.locator('.total', { hasText: 'Final results · 3 votes' }).waitFor({ timeout: 5000 });
    await p.locator('.opt').nth(0).locator('.num', { hasText: '67% · 2' }).waitFor();
    await p.locator('.opt').nth(1).locator('.num', { hasText: '33% · 1' }).waitFor();
    await p.locator('.badge[data-state=closed]').waitFor();
    assert.match(await p.locator('[aria-live=polite][aria-atomic=true]').textContent(), /Left 67%, Right 33%, Centre 0%/);
  }
  assert.deepEqual(requests, [], 'HTTP requests made at close');
  for (const p of pages) {
    assert.deepEqual(p.problems, []);
    await p.context().close();
  }
});
