// A viewer votes and sees "counted"; the totals move in a second viewer's
// page; keyboard voting, the Korean switch and a 320 px screen work.

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

test('a vote is counted and shows up in a second viewer\'s totals', async () => {
  const poll = await server.poll({ question: 'Who wins tonight? 오늘 밤 우승자는?', options: ['Team Red', '블루 팀', 'Équipe verte 🌿'] });
  const a = await newPage(browser);
  const b = await newPage(browser);
  await Promise.all([a.goto(`${server.url}/p/${poll.id}`), b.goto(`${server.url}/p/${poll.id}`)]);
  for (const p of [a, b]) {
    await p.locator('.q').filter({ hasText: 'Who wins tonight?' }).waitFor();
    await p.locator('.badge[data-state=open]').waitFor();
  }
  await b.locator('.total', { hasText: '0 votes' }).waitFor();

  await a.getByRole('button', { name: /블루 팀/ }).click();
  await a.locator('.status', { hasText: 'Counted' }).waitFor({ timeout: 5000 });
  assert.equal(await a.locator('.opt.chosen .txt').textContent(), '블루 팀');
  assert.equal(await a.getByRole('button', { name: /블루 팀/ }).getAttribute('aria-pressed'), 'true');

  // The second viewer sees the new totals without doing anything.
  await b.locator('.opt').nth(1).locator('.num', { hasText: '100% · 1' }).waitFor({ timeout: 3000 });
  await b.locator('.total', { hasText: '1 vote' }).waitFor();

  // The other options are marked unavailable, and a tap on one changes nothing.
  const red = a.getByRole('button', { name: /Team Red/ });
  assert.equal(await red.getAttribute('aria-disabled'), 'true');
  await red.dispatchEvent('click');
  assert.equal(await a.locator('.status').textContent(), 'Counted ✓');
  assert.equal(await a.locator('.opt.chosen').count(), 1);

  // Keyboard: the second viewer tabs to an option and presses Enter.
  await b.getByRole('button', { name: /Team Red/ }).focus();
  await b.keyboard.press('Enter');
  await b.locator('.status', { hasText: 'Counted' }).waitFor();
  await a.locator('.total', { hasText: '2 votes' }).waitFor();
  await a.locator('.opt').nth(0).locator('.num', { hasText: '50% · 1' }).waitFor();

  const totals = await server.results(poll.id);
  assert.deepEqual(totals.counts, [1, 1, 0]);
  assert.deepEqual([...a.problems, ...b.problems], []);
  await a.context().close();
  await b.context().close();
});

test('Korean from the browser language, switchable to English, and the live region', async () => {
  const poll = await server.poll({ question: '가장 좋아하는 음식은?', options: ['김치찌개', '비빔밥'] });
  const p = await newPage(browser, { locale: 'ko-KR' });
  await p.goto(`${server.url}/p/${poll.id}`);
  await p.locator('.badge', { hasText: '진행 중' }).waitFor();
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'ko');
  await p.getByRole('button', { name: /김치찌개/ }).click();
  await p.locator('.status', { hasText: '투표 완료' }).waitFor();
  assert.equal(await p.locator('.status').getAttribute('role'), 'status');
  assert.equal(await p.locator('[aria-live=polite][aria-atomic=true]').count(), 1, 'a live region for totals');
  await p.getByRole('button', { name: /English/ }).click();
  await p.locator('.status', { hasText: 'Counted' }).waitFor();
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'en');
  // The choice is remembered.
  await p.reload();
  await p.locator('.badge', { hasText: 'Live' }).waitFor();
  assert.deepEqual(p.problems, []);
  await p.context().close();
});

test('320 px wide: nothing overflows, long words wrap', async () => {
  const long = 'Supercalifragilisticexpialidocious'.repeat(3);
  const poll = await server.poll({ question: `${long}? 매우매우매우긴질문입니다`, options: [long, '짧음', 'مرحبا بالعالم'] });
  const p = await newPage(browser, { width: 320, height: 640 });
  await p.goto(`${server.url}/p/${poll.id}`);
  await p.locator('.badge[data-state=open]').waitFor();
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, 'horizontal overflow at 320 px');
  const box = await p.locator('.vote').first().boundingBox();
  assert.ok(box.height >= 48, 'touch target at least 48 px tall');
  assert.deepEqual(p.problems, []);
  await p.context().close();
});

test('a page opened on a draft poll comes alive when the producer opens it', async () => {
  const poll = await server.poll({ question: 'Starts soon', options: ['A', 'B'] }, { open: false });
  const p = await newPage(browser);
  await p.goto(`${server.url}/p/${poll.id}`);
  await p.locator('.badge[data-state=draft]').waitFor();
  await p.locator('.status', { hasText: 'Voting has not started yet' }).waitFor();
  assert.equal(await p.getByRole('button', { name: /A/ }).getAttribute('aria-disabled'), 'true');
  await server.api('POST', `/api/polls/${poll.id}/open`);
  await p.locator('.badge[data-state=open]').waitFor({ timeout: 5000 });
  await p.getByRole('button', { name: /^A/ }).click();
  await p.locator('.status', { hasText: 'Counted' }).waitFor();
  await p.context().close();
});

test('the index lists open polls and links to them', async () => {
  const open = await server.poll({ question: 'Listed poll 목록' , options: ['x', 'y'] });
  const draft = await server.poll({ question: 'Unlisted draft', options: ['x', 'y'] }, { open: false });
  const p = await newPage(browser);
  await p.goto(`${server.url}/`);
  await p.getByRole('link', { name: /Listed poll 목록/ }).click();
  await p.waitForURL(`${server.url}/p/${open.id}`);
  await p.locator('.q', { hasText: 'Listed poll' }).waitFor();
  await p.goBack();
  await p.getByRole('link', { name: /Listed poll/ }).waitFor();
  assert.equal(await p.getByText(draft.question).count(), 0);
  assert.deepEqual(p.problems, []);
  await p.context().close();
});

test('an unknown poll says so', async () => {
  const p = await newPage(browser);
  await p.goto(`${server.url}/p/nosuchpoll`);
  await p.getByText('This poll does not exist.').waitFor();
  await p.context().close();
});
