// A viewer's vote is checked in the closed poll's results certificate:
// the receipt number shows after voting and after a reload, the check link
// appears at close, and the verify page passes every check in the
// browser. A number with no vote, a wrong option and a receipt altered on
// the wire (its option, or one proof hash) fail their check: the checks
// are real. The dashboard shows the certificate and downloads the export.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ADMIN_TOKEN } from '../lib/server.js';
import { newPage } from '../lib/browser.js';
import { serverAndBrowser } from '../lib/setup.js';

let server;
let browser;
let closed = null; // {poll, seq, payload}: the poll the first test voted in and closed

serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

const checksOf = (page) => page.locator('.check').evaluateAll((ls) => ls.map((l) => [l.dataset.check, l.dataset.ok]));

async function certificate(id) {
  const res = await fetch(`${server.url}/api/polls/${id}/certificate`);
  assert.equal(res.status, 200);
  const cert = await res.json();
  return { cert, payload: JSON.parse(cert.payload) };
}

test('a viewer sees the receipt number and checks the vote in the certificate', async () => {
  const poll = await server.poll({ question: 'Certified result? 인증된 결과?', options: ['Yes', '아니요', 'Maybe'] });
  const v = await newPage(browser);
  const w = await newPage(browser);
  await Promise.all([v.goto(`${server.url}/p/${poll.id}`), w.goto(`${server.url}/p/${poll.id}`)]);

  await v.getByRole('button', { name: /아니요/ }).click();
  await v.locator('.status', { hasText: 'Counted' }).waitFor();
  const receipt = v.locator('.receipt', { hasText: /^Your vote is #\d+$/ });
  await receipt.waitFor({ timeout: 5000 });
  const seq = Number((await receipt.textContent()).match(/#(\d+)/)[1]);
  assert.deepEqual(JSON.parse(await v.evaluate((id) => localStorage.getItem(`votecast.receipts.${id}`), poll.id)), [{ seq, option: 1 }]);
  assert.equal(await v.locator('.receipt a').count(), 0, 'no check link while the poll is open');

  // A second viewer votes, so the proof has more than one leaf to climb.
  await w.getByRole('button', { name: /Maybe/ }).click();
  await w.locator('.receipt', { hasText: /Your vote is #\d+/ }).waitFor({ timeout: 5000 });

  // The receipt survives a reload, and reads in Korean.
  await v.reload();
  await v.locator('.receipt', { hasText: `Your vote is #${seq}` }).waitFor();
  await v.getByRole('button', { name: /한국어/ }).click();
  await v.locator('.receipt', { hasText: `내 표는 #${seq}번입니다` }).waitFor();
  await v.getByRole('button', { name: /English/ }).click();

  // At close the page, told over its socket, links to the check.
  await server.api('POST', `/api/polls/${poll.id}/close`);
  const link = v.getByRole('link', { name: 'Check your vote in the results certificate' });
  await link.waitFor({ timeout: 10000 });
  assert.equal(await link.getAttribute('href'), `/verify?poll=${poll.id}&seq=${seq}&option=1`);
  await link.click();
  await v.waitForURL(`${server.url}/verify?poll=${poll.id}&seq=${seq}&option=1`);
  await v.locator('.verdict[data-ok=true]', { hasText: 'Every check passed.' }).waitFor({ timeout: 15000 });
  assert.deepEqual(await checksOf(v), [['signature', 'true'], ['key', 'true'], ['receipt', 'true'], ['option', 'true'], ['inclusion', 'true']]);
  await v.getByText('It went to “아니요”, the option this browser remembers.').waitFor();
  await v.getByText(`Vote #${seq} is in the certified log`).waitFor();

  // What it certifies: the question, the totals, the counted votes.
  const { payload } = await certificate(poll.id);
  assert.equal(await v.locator('h1.q').textContent(), 'Certified result? 인증된 결과?');
  assert.deepEqual(await v.locator('.cert-totals li').allTextContents(), ['Yes0', '아니요1', 'Maybe1']);
  assert.equal(await v.locator('[data-fact=counted]').textContent(), '2');
  assert.equal(await v.locator('[data-fact=root]').textContent(), payload.root);
  assert.deepEqual(payload.totals, [0, 1, 1]);

  await v.getByRole('button', { name: /한국어/ }).click();
  await v.locator('.verdict', { hasText: '모든 확인을 통과했습니다.' }).waitFor();
  await v.getByRole('button', { name: /English/ }).click();
  assert.deepEqual([...v.problems, ...w.problems], []);
  await v.context().close();
  await w.context().close();
  closed = { poll, seq, payload };
});

test('a number with no vote, a wrong option and an altered receipt fail their check', async () => {
  assert.ok(closed, 'the first test closed a poll');
  const { poll, seq, payload } = closed;
  const p = await newPage(browser);
  const verify = (s, o) => p.goto(`${server.url}/verify?poll=${poll.id}&seq=${s}&option=${o}`);

  // No vote at that number: the certificate still checks, the receipt not.
  const none = payload.last_seq + 1000;
  await verify(none, 1);
  await p.locator('.check[data-check=receipt][data-ok=false]', { hasText: `there is no vote #${none} in this poll's certified log` }).waitFor();
  await p.locator('.verdict[data-ok=false]').waitFor();
  assert.deepEqual(await checksOf(p), [['signature', 'true'], ['key', 'true'], ['receipt', 'false']]);

  // The vote went to 아니요; this browser claims Yes.
  await verify(seq, 0);
  await p.locator('.check[data-check=option][data-ok=false]', { hasText: 'the certified log has “아니요” at this number; this browser remembers “Yes”' }).waitFor();
  assert.deepEqual(await checksOf(p), [['signature', 'true'], ['key', 'true'], ['receipt', 'true'], ['option', 'false'], ['inclusion', 'true']]);

  // A server that says the vote went to Yes: the option now agrees, but the
  // entry is no longer the leaf the signed root covers.
  const isReceipt = (u) => u.pathname.endsWith('/receipt');
  const alter = (change) => p.route(isReceipt, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    change(body);
    await route.fulfill({ status: 200, json: body });
  });
  await alter((b) => { b.entry.option = 0; });
  await verify(seq, 0);
  await p.locator('.check[data-check=inclusion][data-ok=false]', { hasText: 'the proof does not lead to the signed root' }).waitFor();
  assert.deepEqual(await checksOf(p), [['signature', 'true'], ['key', 'true'], ['receipt', 'true'], ['option', 'true'], ['inclusion', 'false']]);
  await p.unroute(isReceipt);

  // One proof hash changed by one bit.
  await alter((b) => {
    assert.ok(b.proof.length > 0, 'a proof to alter');
    const h = b.proof[0];
    b.proof[0] = h.slice(0, -1) + (parseInt(h.at(-1), 16) ^ 1).toString(16);
  });
  await verify(seq, 1);
  await p.locator('.check[data-check=inclusion][data-ok=false]').waitFor();
  assert.deepEqual(await checksOf(p), [['signature', 'true'], ['key', 'true'], ['receipt', 'true'], ['option', 'true'], ['inclusion', 'false']]);
  await p.unroute(isReceipt);

  // A poll still open, an unknown poll, no poll at all.
  const open = await server.poll({ question: 'Still open', options: ['a', 'b'] });
  await p.goto(`${server.url}/verify?poll=${open.id}&seq=1`);
  await p.getByText('Voting is not closed yet: the certificate is made when the poll closes.').waitFor();
  await p.goto(`${server.url}/verify?poll=nosuchpoll&seq=1`);
  await p.getByText('This poll does not exist.').waitFor();
  await p.goto(`${server.url}/verify`);
  await p.getByText('Open this page from the link under a closed poll.').waitFor();
  assert.deepEqual(p.problems, []);
  await p.context().close();
});

test('the dashboard shows the closed poll\'s certificate and downloads its export', async () => {
  assert.ok(closed, 'the first test closed a poll');
  const { poll, seq, payload } = closed;
  const admin = await newPage(browser, { width: 1280, height: 900 });
  const urls = [];
  admin.on('request', (r) => urls.push(r.url()));
  await admin.goto(`${server.url}/admin`);
  await admin.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.locator('.poll-item', { hasText: poll.question }).click();

  await admin.locator('#cert .verdict[data-ok=true]').waitFor({ timeout: 15000 });
  assert.deepEqual(await admin.locator('#cert .check').evaluateAll((ls) => ls.map((l) => [l.dataset.check, l.dataset.ok])), [['signature', 'true'], ['key', 'true']]);
  assert.equal(await admin.locator('#cert [data-fact=root]').textContent(), payload.root);
  assert.equal(await admin.locator('#cert [data-fact=counted]').textContent(), '2');
  assert.deepEqual(await admin.locator('#cert .cert-totals li').allTextContents(), ['Yes0', '아니요1', 'Maybe1']);
  assert.match(await admin.locator('#cert [data-fact=signed_at]').textContent(), /\d/);

  // The export: one line per message of the poll's log, our vote among them.
  const [dl] = await Promise.all([admin.waitForEvent('download'), admin.locator('#export-log').click()]);
  assert.equal(dl.suggestedFilename(), `votecast-${poll.id}.ndjson`);
  const lines = readFileSync(await dl.path(), 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, payload.entries);
  const entries = lines.map((l) => JSON.parse(l));
  assert.equal(entries[0].seq, payload.first_seq);
  assert.equal(entries.at(-1).seq, payload.last_seq);
  assert.ok(entries.every((e, i) => i === 0 || e.seq > entries[i - 1].seq), 'lines in log order');
  assert.equal(entries.filter((e) => !e.close && !e.bad).length, 2, 'two votes');
  assert.equal(entries.find((e) => e.seq === seq)?.option, 1);

  // The certificate as a file: the very bytes the server signed.
  const [cdl] = await Promise.all([admin.waitForEvent('download'), admin.locator('#cert-download').click()]);
  assert.equal(cdl.suggestedFilename(), `votecast-${poll.id}-certificate.json`);
  assert.deepEqual(JSON.parse(readFileSync(await cdl.path(), 'utf8')), (await certificate(poll.id)).cert);

  assert.ok(urls.every((u) => !u.includes(ADMIN_TOKEN)), 'token in a URL');
  assert.deepEqual(admin.problems, []);
  await admin.context().close();
});
