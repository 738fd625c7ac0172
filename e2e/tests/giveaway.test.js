// A giveaway in the browser: a quiz with 2 prizes. Viewers enter one
// after the other (each waits for its receipt, so the log's order is
// known): the first two on the right answer win and reveal a claim code
// (a JWT naming their entry and rank), an earlier wrong answer and a
// right answer after the prizes ran out lose, and everyone, an onlooker
// too, sees it sold out with 0 prizes left and the right answer. The
// dashboard shows the giveaway's figures, and its form sends a giveaway
// and shows the server's message for 0 prizes. A giveaway closed before
// it sells out gives every entry a prize.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_TOKEN } from '../lib/server.js';
import { newPage } from '../lib/browser.js';
import { serverAndBrowser } from '../lib/setup.js';

let server;
let browser;
let quiz = null; // {poll, seqs}: the giveaway the first test sold out

serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

const CLAIM = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// enter taps option on page and answers the receipt's number.
async function enter(page, option) {
  await page.getByRole('button', { name: new RegExp(option) }).click();
  await page.locator('.status', { hasText: 'Counted' }).waitFor();
  const receipt = page.locator('.receipt', { hasText: /^Your vote is #\d+$/ });
  await receipt.waitFor({ timeout: 5000 });
  return Number((await receipt.textContent()).match(/#(\d+)/)[1]);
}

// claim presses the winner's button and answers the code it shows.
async function claim(page) {
  await page.getByRole('button', { name: 'Show my claim code' }).click();
  const code = page.getByLabel('Your claim code');
  await code.waitFor({ timeout: 10000 });
  return code.inputValue();
}

const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

test('a quiz giveaway: the first two right entries win, the rest lose, everyone sees it sold out', async () => {
  const poll = await server.poll({ kind: 'giveaway', prizes: 2, answer: 1, question: 'Capital of Korea? 한국의 수도는?', options: ['Busan', 'Seoul', 'Incheon'] });
  const publicPoll = await (await fetch(`${server.url}/api/polls/${poll.id}`)).json();
  assert.equal(publicPoll.answer, undefined, 'the answer is hidden from viewers while open');
  assert.equal((await server.api('GET', `/api/polls/${poll.id}`)).answer, 1, 'the producer sees the answer');
  const [first, wrong, second, late, onlooker] = await Promise.all([0, 1, 2, 3, 4].map(() => newPage(browser)));
  const all = [first, wrong, second, late, onlooker];
  await Promise.all(all.map((p) => p.goto(`${server.url}/p/${poll.id}`)));
  for (const p of all) {
    await p.locator('.badge.kind', { hasText: 'Giveaway' }).waitFor();
    await p.locator('.gw-left', { hasText: '2 of 2 prizes left' }).waitFor({ timeout: 10000 });
  }
  assert.equal(await first.locator('.gw-sold').textContent(), '');

  const a = await enter(first, 'Seoul');
  await first.locator('.gw-result[data-outcome=pending]', { hasText: 'You are in.' }).waitFor();
  await onlooker.locator('.gw-left', { hasText: '1 of 2 prizes left' }).waitFor({ timeout: 10000 });
  const c = await enter(wrong, 'Busan');
  const b = await enter(second, 'Seoul');
  assert.ok(a < c && c < b, `entries in order: ${a} < ${c} < ${b}`);

  // Sold out, for everyone, with the right answer shown.
  for (const p of all) {
    await p.locator('.gw-sold[role=status]', { hasText: 'Sold out' }).waitFor({ timeout: 10000 });
    await p.locator('.gw-left', { hasText: '0 of 2 prizes left' }).waitFor();
    await p.locator('.gw-answer', { hasText: 'Right answer: Seoul' }).waitFor();
    assert.equal(await p.locator('.opt.answer').count(), 1);
    assert.match(await p.locator('.opt.answer .txt').textContent(), /Seoul/);
    assert.equal(await p.locator('.gw-bar').evaluate((e) => [e.value, e.max].join('/')), '2/2');
  }
  await first.locator('.gw-result[data-outcome=won]', { hasText: 'You won!' }).waitFor();
  await second.locator('.gw-result[data-outcome=won]', { hasText: 'You won!' }).waitFor();
  await wrong.locator('.gw-result[data-outcome=lost]', { hasText: 'Not this time' }).waitFor();
  assert.equal(await wrong.getByRole('button', { name: 'Show my claim code' }).count(), 0);
  assert.ok(await onlooker.locator('.gw-result').isHidden(), 'an onlooker is told no outcome');

  // After the prizes ran out: a right answer loses.
  const d = await enter(late, 'Seoul');
  assert.ok(d > b);
  await late.locator('.gw-result[data-outcome=lost]', { hasText: 'Not this time' }).waitFor({ timeout: 10000 });

  // The winners' claim codes: asked of the server as themselves.
  const codes = [];
  for (const [page, seq, rank] of [[first, a, 1], [second, b, 2]]) {
    const code = await claim(page);
    assert.match(code, CLAIM);
    assert.equal(code.split('.').length, 3);
    const claimed = payloadOf(code);
    assert.equal(claimed.poll, poll.id);
    assert.equal(claimed.entry, seq);
    assert.equal(claimed.rank, rank);
    await page.locator('.gw-text', { hasText: `You won! (prize #${rank})` }).waitFor();
    codes.push(code);
  }
  assert.notEqual(codes[0], codes[1]);
  await first.getByRole('button', { name: 'Copy' }).click();
  await first.getByRole('button', { name: 'Copied' }).waitFor();

  // In Korean.
  await first.getByRole('button', { name: /한국어/ }).click();
  await first.locator('.gw-text', { hasText: '당첨되었습니다! (경품 #1)' }).waitFor();
  await first.locator('.gw-sold', { hasText: '선착순 마감' }).waitFor();
  await first.locator('.gw-left', { hasText: '경품 2개 중 0개 남음' }).waitFor();
  await first.getByRole('button', { name: /English/ }).click();
  await wrong.getByRole('button', { name: /한국어/ }).click();
  await wrong.locator('.gw-text', { hasText: '아쉽지만 이번에는 당첨되지 않았습니다' }).waitFor();

  // A reload keeps the receipt, so the outcome.
  await second.reload();
  await second.locator('.gw-result[data-outcome=won]', { hasText: 'You won!' }).waitFor({ timeout: 10000 });

  // The server agrees with every page, each asking as itself.
  const outcomes = await Promise.all(all.map((p) => p.evaluate(async (id) => {
    const r = await fetch(`/api/polls/${id}/outcome`);
    return r.json();
  }, poll.id)));
  assert.deepEqual(outcomes.map((o) => o.won), [true, false, true, false, false]);

  assert.deepEqual(all.flatMap((p) => p.problems), []);
  await Promise.all(all.map((p) => p.context().close()));
  quiz = { poll, seqs: { a, b, c, d } };
});

test('the dashboard shows the giveaway\'s figures, and its form makes one', async () => {
  assert.ok(quiz, 'the first test sold a giveaway out');
  const { poll, seqs } = quiz;
  const admin = await newPage(browser, { width: 1280, height: 900 });
  await admin.goto(`${server.url}/admin`);
  await admin.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.locator('#dash').waitFor();

  const item = admin.locator('.poll-item', { hasText: poll.question });
  await item.locator('.badge.kind', { hasText: 'Giveaway · 2 prizes' }).waitFor();
  await item.click();
  await admin.locator('#gw-winners', { hasText: '2' }).waitFor({ timeout: 10000 });
  assert.equal(await admin.locator('#gw-prizes').textContent(), '2');
  assert.equal(await admin.locator('#gw-left').textContent(), '0');
  assert.equal(await admin.locator('#gw-sold').textContent(), 'Yes');
  assert.equal(await admin.locator('#gw-cutoff').textContent(), `#${seqs.b}`);
  await admin.locator('.meta', { hasText: 'Correct answer: Seoul' }).waitFor({ timeout: 10000 });
  // The bars count every entry: Busan 1, Seoul 3.
  await admin.locator('#bars li', { hasText: 'Seoul' }).locator('.num', { hasText: '75% · 3' }).waitFor();

  // The form: 0 prizes is refused with the server's own message.
  const spec = { kind: 'giveaway', prizes: 0, question: 'Who wins the mug?', options: ['Red', 'Blue'], votes_per_user: 1, allow_change: false, results: 'live' };
  const res = await fetch(`${server.url}/api/polls`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(spec) });
  assert.equal(res.status, 400);
  const { error } = await res.json();
  assert.match(error, /prizes/);

  await admin.getByRole('button', { name: 'New poll' }).click();
  await admin.getByLabel('Question').fill('Who wins the mug?');
  await admin.getByLabel('Option 1', { exact: true }).fill('Red');
  await admin.getByLabel('Option 2', { exact: true }).fill('Blue');
  assert.ok(await admin.getByLabel('Prizes').isHidden(), 'no prizes on a poll');
  await admin.getByLabel('Giveaway', { exact: true }).check();
  assert.ok(await admin.getByLabel('Votes per viewer').isHidden(), 'a giveaway takes one entry');
  await admin.getByLabel('Prizes').fill('0');
  await admin.getByRole('button', { name: 'Create poll' }).click();
  await admin.locator('.editor .form-errors', { hasText: `Error: ${error}` }).waitFor();

  // Then 3 prizes and Blue the right answer: what goes to the server.
  await admin.getByLabel('Prizes').fill('3');
  await admin.getByLabel('Correct answer').selectOption({ label: '2. Blue' });
  const [req] = await Promise.all([
    admin.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/polls'),
    admin.getByRole('button', { name: 'Create poll' }).click(),
  ]);
  assert.deepEqual(req.postDataJSON(), { question: 'Who wins the mug?', options: ['Red', 'Blue'], votes_per_user: 1, allow_change: false, results: 'live', kind: 'giveaway', prizes: 3, answer: 1 });
  await admin.getByText('Poll created.').waitFor();
  const made = (await server.api('GET', '/api/polls')).find((p) => p.question === 'Who wins the mug?');
  assert.equal(made.kind, 'giveaway');
  assert.equal(made.prizes, 3);
  await admin.locator('.meta', { hasText: 'Giveaway · 3 prizes · Correct answer: Blue' }).waitFor();
  // The draft's form keeps the answer the server will not list.
  assert.equal(await admin.getByLabel('Correct answer').inputValue(), '1');

  assert.deepEqual(admin.problems, []);
  await admin.context().close();
});

test('a giveaway closed before it sells out: every entry won', async () => {
  const poll = await server.poll({ kind: 'giveaway', prizes: 5, question: 'Free stickers', options: ['Cats', 'Dogs'] });
  const v = await newPage(browser);
  const w = await newPage(browser);
  await Promise.all([v.goto(`${server.url}/p/${poll.id}`), w.goto(`${server.url}/p/${poll.id}`)]);
  const seq = await enter(v, 'Dogs');
  await v.locator('.gw-left', { hasText: '4 of 5 prizes left' }).waitFor({ timeout: 10000 });
  await v.locator('.gw-result[data-outcome=pending]').waitFor();
  // Not decided yet: the server says so too.
  assert.equal(await v.evaluate(async (id) => (await fetch(`/api/polls/${id}/outcome`)).status, poll.id), 409);

  await server.api('POST', `/api/polls/${poll.id}/close`);
  await v.locator('.gw-result[data-outcome=won]', { hasText: 'You won!' }).waitFor({ timeout: 10000 });
  const code = await claim(v);
  assert.match(code, CLAIM);
  assert.equal(payloadOf(code).entry, seq);
  await v.locator('.gw-text', { hasText: 'You won! (prize #1)' }).waitFor();
  assert.equal(await v.locator('.gw-sold').textContent(), '', 'not sold out');
  assert.ok(await w.locator('.gw-result').isHidden());
  await w.locator('.badge[data-state=closed]').waitFor();
  assert.deepEqual([...v.problems, ...w.problems], []);
  await v.context().close();
  await w.context().close();
});
