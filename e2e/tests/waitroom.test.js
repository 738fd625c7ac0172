// The waiting room. The server has one viewer slot and a line that does
// not move: a first viewer fills the node; a second waits as number 1 and
// a third as number 2; the third votes from the line and sees the vote
// counted; a Korean browser gets the line in Korean, and the widget frame
// shows it too. The producer sees the line on the dashboard and sets the
// admission rate there; when the first viewer leaves, the second is let in
// and takes the slot, the third moves up to number 1, and when the second
// leaves too the third connects with its ticket and sees the totals with
// its vote, counted once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ADMIN_TOKEN } from '../lib/server.js';
import { launch, newPage, artifact } from '../lib/browser.js';
import { waitFor } from '../lib/wait.js';

let server;
let browser;

before(async () => {
  server = await new Server({ extraArgs: ['--max-conns', '1', '--admit-rate', '0'] }).start();
  assert.equal((await line()).rate, 0, '--admit-rate 0 stops the line');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const line = async () => (await fetch(`${server.url}/api/queue`, { cache: 'no-store' })).json();

test('a viewer waits in line, votes from it, and is let in when the rate goes up and a slot frees', async () => {
  const poll = await server.poll({ question: 'Encore tonight? 앙코르?', options: ['Yes please', 'No'] });
  const url = `${server.url}/p/${poll.id}`;

  // The first viewer takes the only slot.
  const first = await newPage(browser);
  await first.goto(url);
  await first.locator('.total', { hasText: '0 votes' }).waitFor();

  // Another viewer is first in line.
  const ahead = await newPage(browser);
  await ahead.goto(url);
  await ahead.locator('section.line .line-place', { hasText: 'You are number 1 in line' }).waitFor();

  // The second is refused a socket and joins the line behind it.
  const second = await newPage(browser);
  const sockets = [];
  second.on('websocket', (ws) => sockets.push(ws.url()));
  const votePosts = [];
  second.on('response', (r) => { if (r.url().includes('/queue/vote')) votePosts.push(r); });
  await second.goto(url);
  const box = second.locator('section.line');
  await box.locator('.line-place', { hasText: 'You are number 2 in line' }).waitFor();
  assert.equal(await box.locator('.line-place').textContent(), 'You are number 2 in line · the line is not moving right now');
  assert.equal(await box.locator('h2').textContent(), 'Lots of viewers right now: you are in line');
  await box.getByText('Your vote counts even while you wait.').waitFor();
  assert.equal(await second.getByRole('progressbar', { name: 'Progress in line' }).count(), 1);
  // The question and the options stay on screen and usable.
  await second.locator('.q', { hasText: 'Encore tonight?' }).waitFor();
  const yes = second.getByRole('button', { name: /Yes please/ });
  assert.equal(await yes.getAttribute('aria-disabled'), 'false');
  // A screen reader hears the place; nothing took the focus.
  await waitFor(async () => /number 2 in line/.test(await second.locator('.line-live[aria-live=polite]').textContent()), { what: 'the line in the live region' });
  assert.equal(await second.evaluate(() => document.activeElement === document.body), true);
  assert.equal(await second.locator('.conn').isHidden(), true, 'waiting is not "connection lost"');
  await second.screenshot({ path: artifact('waitroom-phone.png'), fullPage: true });

  // A vote from the line is counted.
  await yes.click();
  await second.locator('.status', { hasText: 'Counted' }).waitFor();
  assert.equal(votePosts.length, 1);
  assert.equal(votePosts[0].status(), 200);
  assert.equal((await votePosts[0].json()).status, 'accepted');
  await waitFor(async () => JSON.stringify((await server.results(poll.id)).counts) === '[1,0]', { what: 'the vote from the line in the totals' });
  assert.equal(await box.isVisible(), true, 'still in line');
  assert.equal(sockets.length, 1, 'in line the page does not knock on the socket again');

  // A Korean browser gets the line in Korean.
  const ko = await newPage(browser, { locale: 'ko-KR' });
  await ko.goto(url);
  await ko.locator('.line-place', { hasText: '3번째로 기다리는 중' }).waitFor();
  assert.equal(await ko.locator('.line-place').textContent(), '3번째로 기다리는 중 · 지금은 줄이 움직이지 않습니다');
  assert.equal(await ko.locator('section.line h2').textContent(), '지금 시청자가 많아 순서를 기다리는 중입니다');
  await ko.getByText('기다리는 동안 한 투표도 그대로 집계됩니다.').waitFor();
  await ko.screenshot({ path: artifact('waitroom-phone-ko.png'), fullPage: true });
  assert.deepEqual(ko.problems, []);
  await ko.context().close();

  // So does the widget's frame.
  const frame = await newPage(browser);
  await frame.goto(`${server.url}/embed/${poll.id}?theme=dark`);
  await frame.locator('.line-place', { hasText: 'You are number 4 in line' }).waitFor();
  await frame.screenshot({ path: artifact('waitroom-widget-dark.png'), fullPage: true });
  assert.deepEqual(frame.problems, []);
  await frame.context().close();

  // The producer sees the line and raises the admission rate.
  const admin = await newPage(browser, { width: 1280, height: 900 });
  await admin.goto(`${server.url}/admin`);
  await admin.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  const panel = admin.getByRole('region', { name: 'Waiting room' });
  await panel.locator('#q-waiting', { hasText: /^4$/ }).waitFor();
  await panel.locator('#q-votes', { hasText: /^1$/ }).waitFor(); // the vote cast from the line
  assert.equal(await panel.locator('#q-wait').textContent(), 'stopped');
  assert.equal(await panel.locator('#q-rate').textContent(), '0/s');
  const rate = panel.getByLabel('Admission rate (viewers per second)');
  await rate.fill('-5');
  await panel.getByRole('button', { name: 'Set rate' }).click();
  await panel.getByText('Enter a number of viewers per second').waitFor();
  assert.equal((await line()).rate, 0, 'a bad rate is not sent');
  // One viewer every 2 s: slow enough to watch the line move.
  await rate.fill('0.5');
  await panel.getByRole('button', { name: 'Set rate' }).click();
  await panel.getByText('Admission rate set to 0.5 viewers per second.').waitFor();
  assert.equal((await line()).rate, 0.5);
  await panel.locator('#q-rate', { hasText: '0.5/s' }).waitFor();
  await admin.screenshot({ path: artifact('waitroom-dashboard.png'), fullPage: true });

  // The first viewer leaves: the one ahead is let in and takes the slot,
  // and the second moves up to number 1 and stays there, the node full.
  // The pages last read the line while it was stopped, so they would ask
  // again only in 10 s; coming back online makes a page ask at once.
  const wake = (page) => page.evaluate(() => window.dispatchEvent(new Event('online')));
  await first.context().close();
  await waitFor(async () => { await wake(ahead); return ahead.locator('section.line').isHidden(); }, { what: 'the one ahead let in' });
  await ahead.locator('.total', { hasText: '1 vote' }).waitFor();
  await wake(second);
  await box.locator('.line-place', { hasText: 'You are number 1 in line' }).waitFor();
  // It leaves too: the second is let in and connects with its ticket.
  await ahead.context().close();
  await waitFor(async () => { await wake(second); return box.isHidden(); }, { what: 'the second let in' });
  await second.locator('.total', { hasText: '1 vote' }).waitFor();
  await second.locator('.opt').nth(0).locator('.num', { hasText: '100% · 1' }).waitFor();
  await second.locator('.opt').nth(1).locator('.num', { hasText: '0% · 0' }).waitFor();
  assert.equal(await second.locator('.status').textContent(), 'Counted ✓');
  assert.ok(sockets.length >= 2 && sockets.slice(1).every((u) => /&ticket=[^&]+/.test(u)), `sockets with the ticket: ${sockets.join(' ')}`);
  await waitFor(async () => /you are connected/.test(await second.locator('.line-live[aria-live=polite]').textContent()), { what: 'the turn announced' });
  const totals = await server.results(poll.id);
  assert.deepEqual(totals.counts, [1, 0], 'the vote from the line, counted once');
  await panel.locator('#q-admitted', { hasText: /^[1-9]/ }).waitFor();

  assert.deepEqual([...first.problems, ...ahead.problems, ...second.problems, ...admin.problems], []);
  await second.context().close();
  await admin.context().close();
});
