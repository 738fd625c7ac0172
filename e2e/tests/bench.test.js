// The viewer page on a bad network: transfer size of everything it loads
// and time until the poll shows, with Chromium's network emulation (CDP
// Network.emulateNetworkConditions), cold cache. Printed as BENCH lines
// and written to artifacts/bench.json.
//
// Two profiles, both with DevTools' "Slow 3G" bandwidth (400 kbit/s each
// way). "slow-3g" applies its stated 400 ms round trip once per request.
// "devtools-slow-3g" is the DevTools preset taken literally: DevTools
// multiplies the round trip by 5 (2,000 ms per request) to stand for a
// connection set-up per request. Under it no page can show anything within
// 2 s, since the HTML alone waits 2 s; it is reported for comparison.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Server } from '../lib/server.js';
import { launch, newPage, artifact } from '../lib/browser.js';

const PROFILES = {
  'slow-3g': { latency: 400, downloadThroughput: 50000, uploadThroughput: 50000 },
  'devtools-slow-3g': { latency: 2000, downloadThroughput: 50000, uploadThroughput: 50000 },
};

let server;
let browser;
let poll;
const bench = {};

before(async () => {
  server = await new Server().start();
  browser = await launch();
  poll = await server.poll({ question: 'How is the signal where you are? 신호는 어떤가요?', options: ['Great', 'OK', 'Bad', '최악'] });
});

after(async () => {
  writeFileSync(artifact('bench.json'), JSON.stringify(bench, null, 2) + '\n');
  await browser?.close();
  await server?.close();
});

async function measure(profile) {
  const p = await newPage(browser);
  const cdp = await p.context().newCDPSession(p);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, connectionType: 'cellular3g', ...PROFILES[profile] });
  const files = new Map();
  cdp.on('Network.responseReceived', (e) => files.set(e.requestId, { url: e.response.url, encoding: e.response.headers['content-encoding'] || e.response.headers['Content-Encoding'] || '' }));
  cdp.on('Network.loadingFinished', (e) => { const f = files.get(e.requestId); if (f) f.bytes = e.encodedDataLength; });
  const t0 = Date.now();
  await p.goto(`${server.url}/p/${poll.id}`, { waitUntil: 'commit' });
  await p.locator('.q', { hasText: 'How is the signal' }).waitFor({ timeout: 30000 });
  await p.locator('.vote').first().waitFor();
  const wall = Date.now() - t0;
  const mark = await p.evaluate(() => performance.getEntriesByName('votecast:poll-shown')[0]?.startTime);
  await p.waitForLoadState('load');
  const list = [...files.values()].filter((f) => f.bytes !== undefined && f.url.startsWith('http'));
  const bytes = list.reduce((a, f) => a + f.bytes, 0);
  await p.context().close();
  return { bytes, ms: Math.round(mark), wall_ms: wall, files: list.map((f) => ({ url: new URL(f.url).pathname, bytes: f.bytes, encoding: f.encoding })) };
}

test('viewer page weight and time to poll on slow 3G', async () => {
  for (const profile of Object.keys(PROFILES)) {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await measure(profile));
    runs.sort((a, b) => a.ms - b.ms);
    const median = runs[1];
    bench[profile] = { profile: PROFILES[profile], ...median, runs_ms: runs.map((r) => r.ms) };
    const name = profile === 'slow-3g' ? 'viewer-page' : `viewer-page-${profile}`;
    console.log(`BENCH ${name} bytes=${median.bytes} ms=${median.ms} files=${median.files.length} latency_ms=${PROFILES[profile].latency} down_kbps=400`);
  }
  const s = bench['slow-3g'];
  for (const f of s.files) {
    if (/\.(js|css|html)$|^\/p\//.test(f.url)) assert.equal(f.encoding, 'gzip', `${f.url} is not compressed`);
  }
  assert.ok(s.bytes < 50 * 1024, `viewer page transfers ${s.bytes} bytes, budget 51200`);
  assert.ok(s.ms < 2000, `poll shown after ${s.ms} ms on slow 3G, goal 2000`);
});
