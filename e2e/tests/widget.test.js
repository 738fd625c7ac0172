// The one-tag widget renders and votes on an allowed partner origin, and
// is refused, clearly, on another: the widget says so, a bare frame is
// blocked by frame-ancestors, and the server refuses the WebSocket.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, freePort } from '../lib/server.js';
import { launch, newPage } from '../lib/browser.js';
import { StaticSite } from '../lib/partner.js';

let server;
let browser;
let allowed;
let refused;
let poll;

before(async () => {
  allowed = new StaticSite('127.0.0.2', await freePort('127.0.0.2'));
  refused = new StaticSite('127.0.0.3', await freePort('127.0.0.3'));
  server = await new Server({ allowOrigins: [allowed.origin] }).start();
  browser = await launch();
  poll = await server.poll({ question: 'Widget poll: pick one 하나 고르세요', options: ['North', '남쪽', 'East'] });
  await allowed.start(poll.id, server.url, 'data-theme="dark" data-accent="#e11d48" data-lang="ko"');
  await refused.start(poll.id, server.url);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await allowed?.close();
  await refused?.close();
});

test('renders, themes, sizes itself and votes on an allowed partner site', async () => {
  const p = await newPage(browser, { width: 1280, height: 900 });
  await p.goto(`${allowed.origin}/`);
  const iframe = p.locator('iframe[title="실시간 투표"]');
  await iframe.waitFor();
  assert.equal(await iframe.getAttribute('sandbox'), 'allow-scripts allow-same-origin');
  const frame = p.frameLocator('iframe[title="실시간 투표"]');
  await frame.locator('.q', { hasText: 'Widget poll' }).waitFor();
  await frame.locator('.badge', { hasText: '진행 중' }).waitFor();
  // Sized to its content: the frame reported its height to the widget.
  await p.waitForFunction(() => document.querySelector('iframe').getBoundingClientRect().height !== 360);
  const inner = await frame.locator('html').evaluate((e) => ({
    theme: e.dataset.theme,
    accent: getComputedStyle(e).getPropertyValue('--accent').trim(),
    height: Math.ceil(e.getBoundingClientRect().height),
  }));
  assert.deepEqual({ theme: inner.theme, accent: inner.accent }, { theme: 'dark', accent: '#e11d48' });
  const outer = await iframe.evaluate((f) => Math.round(f.getBoundingClientRect().height));
  assert.ok(Math.abs(outer - inner.height) <= 1, `frame ${outer}px, content ${inner.height}px`);

  await frame.getByRole('button', { name: /남쪽/ }).click();
  await frame.locator('.status', { hasText: '투표 완료' }).waitFor();
  const totals = await server.results(poll.id);
  assert.equal(totals.total, 1);
  assert.deepEqual(p.problems, []);
  await p.context().close();
});

test('a bare frame of the embed page works on the allowed site', async () => {
  const p = await newPage(browser);
  await p.goto(`${allowed.origin}/frame`);
  await p.frameLocator('#direct').locator('.q', { hasText: 'Widget poll' }).waitFor();
  await p.context().close();
});

test('is refused, with a clear message, on a site that is not a partner', async () => {
  const p = await newPage(browser);
  await p.goto(`${refused.origin}/`);
  // The notice lives in the widget's shadow root; Playwright's text engine pierces it.
  await p.getByText(/is not allowed to embed this poll/).waitFor();
  assert.equal(await p.locator('iframe').count(), 0, 'no frame on a refused site');
  assert.match(await p.getByText(/is not allowed/).textContent(), /127\.0\.0\.3/);
  await p.context().close();
});

test('a bare frame on a refused site is blocked by frame-ancestors', async () => {
  const p = await newPage(browser);
  const blocked = new Promise((resolve) => {
    p.on('console', (m) => { if (/frame-ancestors/.test(m.text())) resolve(m.text()); });
  });
  await p.goto(`${refused.origin}/frame`);
  const msg = await Promise.race([blocked, new Promise((_, rej) => setTimeout(() => rej(new Error('no frame-ancestors refusal within 10 s')), 10000))]);
  assert.match(msg, new RegExp(allowed.origin.replace(/\./g, '\\.')), 'the CSP names the partner origin');
  const child = p.frames().find((f) => f !== p.mainFrame());
  assert.equal(await child.locator('.q').count(), 0, 'no poll rendered in the blocked frame');
  await p.context().close();
});

test('the server accepts the WebSocket from a partner origin and refuses it from others', async () => {
  const wsURL = `${server.url.replace('http', 'ws')}/ws?poll=${poll.id}`;
  const tryOpen = (url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('refused');
  });
  const results = {};
  for (const site of [allowed, refused]) {
    const p = await newPage(browser);
    await p.goto(`${site.origin}/nothing-here`);
    results[site.host] = await p.evaluate(tryOpen, wsURL);
    await p.context().close();
  }
  assert.deepEqual(results, { '127.0.0.2': 'open', '127.0.0.3': 'refused' });
});
