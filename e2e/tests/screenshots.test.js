// Screenshots of the three pages (viewer, dashboard, widget on a partner
// page) at phone (390 px) and desktop (1280 px) widths, light and dark,
// saved under e2e/artifacts/ for review and for the README.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ADMIN_TOKEN, freePort } from '../lib/server.js';
import { launch, newPage, artifact } from '../lib/browser.js';
import { StaticSite } from '../lib/partner.js';

let server;
let browser;
let partner;
let poll;

before(async () => {
  const port = await freePort('127.0.0.2');
  partner = new StaticSite('127.0.0.2', port);
  server = await new Server({ allowOrigins: [partner.origin] }).start();
  browser = await launch();
  poll = await server.poll({ question: 'Which song should close the show? 마지막 곡은?', options: ['Dynamite', '봄날 (Spring Day)', 'Bohemian Rhapsody', 'Let It Be'] });
  // Some votes from a few viewers so the bars have something to show.
  const votes = [0, 1, 1, 2, 1, 0, 3];
  const pages = [];
  for (const option of votes) {
    const p = await newPage(browser);
    await p.goto(`${server.url}/p/${poll.id}`);
    await p.locator('.vote').nth(option).click();
    await p.locator('.status', { hasText: 'Counted' }).waitFor();
    pages.push(p);
  }
  await Promise.all(pages.map((p) => p.context().close()));
  await partner.start(poll.id, server.url);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await partner?.close();
});

const widths = [['phone', 390, 844], ['desktop', 1280, 900]];

test('viewer page', async () => {
  for (const scheme of ['light', 'dark']) {
    for (const [name, width, height] of widths) {
      const p = await newPage(browser, { width, height, colorScheme: scheme });
      await p.goto(`${server.url}/p/${poll.id}`);
      await p.locator('.total', { hasText: 'votes' }).waitFor();
      const before = await p.locator('.total').textContent();
      await p.locator('.vote').nth(1).click();
      await p.locator('.status', { hasText: 'Counted' }).waitFor();
      await p.waitForFunction((t) => document.querySelector('.total').textContent !== t, before);
      await p.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'));
      await p.screenshot({ path: artifact(`viewer-${name}${scheme === 'dark' ? '-dark' : ''}.png`), fullPage: true });
      assert.deepEqual(p.problems, []);
      await p.context().close();
    }
  }
});

test('dashboard', async () => {
  for (const [name, width, height] of widths) {
    const p = await newPage(browser, { width, height });
    await p.goto(`${server.url}/admin`);
    await p.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('#bars li').first().waitFor();
    await p.locator('#s-accepted', { hasText: /^[1-9]/ }).waitFor();
    // Votes arrive while the dashboard watches, so the chart has a curve;
    // the viewers stay connected so the viewer counts are not zero.
    const viewers = [];
    for (let i = 0; i < 6; i++) {
      const v = await newPage(browser);
      await v.goto(`${server.url}/p/${poll.id}`);
      await v.locator('.vote').nth(i % 4).click();
      await v.locator('.status', { hasText: 'Counted' }).waitFor();
      viewers.push(v);
    }
    await p.waitForFunction(() => /Now [1-9]|peak [1-9]/.test(document.getElementById('chart').getAttribute('aria-label')));
    await p.locator('#poll-viewers', { hasText: /poll: [1-9]/ }).waitFor();
    await p.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'));
    await p.screenshot({ path: artifact(`dashboard-${name}.png`), fullPage: true });
    assert.deepEqual(p.problems, []);
    await p.context().close();
    await Promise.all(viewers.map((v) => v.context().close()));
  }
});

test('widget on a partner page', async () => {
  for (const [name, width, height] of widths) {
    const p = await newPage(browser, { width, height });
    await p.goto(`${partner.origin}/`);
    const frame = p.frameLocator('iframe[title="Live poll"]');
    await frame.locator('.total', { hasText: 'votes' }).waitFor();
    await p.waitForFunction(() => document.querySelector('iframe')?.getBoundingClientRect().height !== 360);
    await p.screenshot({ path: artifact(`widget-${name}.png`), fullPage: true });
    await p.context().close();
  }
});
