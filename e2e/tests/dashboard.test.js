// The producer signs in, creates a poll, edits it, opens it, watches a
// vote arrive (totals, counters, chart), closes it and exports results.
// The token stays out of URLs and is kept in sessionStorage only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ADMIN_TOKEN } from '../lib/server.js';
import { newPage } from '../lib/browser.js';
import { serverAndBrowser } from '../lib/setup.js';

let server;
let browser;

serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test('producer creates, edits, opens and closes a poll from the dashboard', async () => {
  const admin = await newPage(browser, { width: 1280, height: 900 });
  const urls = [];
  admin.on('request', (r) => urls.push(r.url()));
  await admin.goto(`${server.url}/admin`);

  // A wrong token is refused; the right one signs in.
  await admin.getByLabel('Admin token').fill('not-the-token-at-all');
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.getByText('That token was not accepted.').waitFor();
  await admin.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.locator('#dash').waitFor();

  // Create.
  await admin.getByRole('button', { name: 'New poll' }).click();
  await admin.getByLabel('Question').fill('Best snack for the show?');
  await admin.getByLabel('Option 1', { exact: true }).fill('Popcorn');
  await admin.getByLabel('Option 2', { exact: true }).fill('떡볶이');
  await admin.getByRole('button', { name: 'Add option' }).click();
  await admin.getByLabel('Option 3', { exact: true }).fill('Nachos');
  await admin.getByRole('button', { name: 'Create poll' }).click();
  await admin.getByText('Poll created.').waitFor();
  const [poll] = (await server.api('GET', '/api/polls')).filter((p) => p.question === 'Best snack for the show?');
  assert.ok(poll, 'the poll exists on the server');
  assert.deepEqual(poll.options, ['Popcorn', '떡볶이', 'Nachos']);
  assert.equal(poll.state, 'draft');

  // Edit while draft: remove an option, allow change.
  await admin.getByRole('button', { name: 'Remove option 3' }).click();
  await admin.getByLabel('Viewers may change their vote until close').check();
  await admin.getByRole('button', { name: 'Save changes' }).click();
  await admin.getByText('Saved.').waitFor();
  const edited = await server.api('GET', `/api/polls/${poll.id}`);
  assert.deepEqual(edited.options, ['Popcorn', '떡볶이']);
  assert.equal(edited.allow_change, true);

  // Open with one click.
  await admin.getByRole('button', { name: 'Open voting' }).click();
  await admin.locator('#detail-state[data-state=open]').waitFor();
  assert.equal((await server.api('GET', `/api/polls/${poll.id}`)).state, 'open');

  // The embed snippet names this server and poll.
  const snippet = await admin.locator('#embed-snippet').inputValue();
  assert.equal(snippet, `<script src="${server.url}/widget.js" data-poll="${poll.id}" async></script>`);

  // A viewer votes; the dashboard shows the totals, counters and viewers.
  const viewer = await newPage(browser);
  await viewer.goto(`${server.url}/p/${poll.id}`);
  await viewer.getByRole('button', { name: /떡볶이/ }).click();
  await viewer.locator('.status', { hasText: 'Counted' }).waitFor();
  await admin.locator('#bars li', { hasText: '떡볶이' }).locator('.num', { hasText: '100% · 1' }).waitFor({ timeout: 5000 });
  await admin.locator('#s-accepted', { hasText: /^[1-9]/ }).waitFor({ timeout: 5000 });
  await admin.locator('#s-viewers', { hasText: /^[1-9]/ }).waitFor({ timeout: 5000 });
  await admin.locator('#poll-viewers', { hasText: /poll: [1-9]/ }).waitFor({ timeout: 5000 });
  assert.match(await admin.locator('#s-lag').textContent(), /^\d/);
  assert.match(await admin.locator('#chart').getAttribute('aria-label'), /Now [\d.]+ votes\/s/);

  // Export CSV and JSON through the authorised fetch (no token in a URL).
  const [csv] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('button', { name: 'CSV' }).click()]);
  const csvText = readFileSync(await csv.path(), 'utf8');
  assert.match(csvText, /떡볶이.*1/);
  assert.equal(csv.suggestedFilename(), `poll-${poll.id}.csv`);
  const [json] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('button', { name: 'JSON' }).click()]);
  const exported = JSON.parse(readFileSync(await json.path(), 'utf8'));
  assert.deepEqual(exported.counts, [0, 1]);

  // Close with one click; the viewer page follows over its socket.
  await admin.getByRole('button', { name: 'Close voting' }).click();
  await admin.locator('#detail-state[data-state=closed]').waitFor({ timeout: 10000 });
  await viewer.locator('.badge[data-state=closed]').waitFor({ timeout: 5000 });
  assert.equal((await server.api('GET', `/api/polls/${poll.id}`)).state, 'closed');

  // The token never appears in a URL; it lives in sessionStorage only.
  assert.ok(urls.every((u) => !u.includes(ADMIN_TOKEN)), 'token in a URL');
  assert.equal(await admin.evaluate(() => sessionStorage.getItem('votecast.admin.token')), ADMIN_TOKEN);
  assert.equal(await admin.evaluate(() => JSON.stringify(localStorage).includes('e2e-admin')), false);

  // Signing out forgets it.
  await admin.getByRole('button', { name: 'Sign out' }).click();
  await admin.getByLabel('Admin token').waitFor();
  assert.equal(await admin.evaluate(() => sessionStorage.getItem('votecast.admin.token')), null);
  assert.deepEqual([...admin.problems, ...viewer.problems], []);
  await admin.context().close();
  await viewer.context().close();
});
