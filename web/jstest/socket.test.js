import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PollSocket, socketURL } from '../static/js/socket.js';

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    FakeWS.all.push(this);
  }
  send(s) { this.sent.push(JSON.parse(s)); }
  close(code) { this.closedWith = code; }
  open() { this.onopen?.(); }
  msg(o) { this.onmessage?.({ data: JSON.stringify(o) }); }
  drop(code) { this.onclose?.({ code }); }
}

const fixedBackoff = () => {
  const b = { delays: [], attempt: 0, next() { this.attempt++; return 1; }, reset() { this.attempt = 0; this.resets = (this.resets || 0) + 1; } };
  return b;
};
const until = async (f) => {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(f());
};

test('socketURL', () => {
  assert.equal(socketURL({ protocol: 'http:', host: 'h:1' }, 'p1'), 'ws://h:1/ws?poll=p1');
  assert.equal(socketURL({ protocol: 'https:', host: 'h' }, 'p1', 'a.b c'), 'wss://h/ws?poll=p1&token=a.b%20c');
});

test('connects, delivers frames, reconnects after a drop, resets backoff on the first frame', async () => {
  FakeWS.all = [];
  const got = [];
  let opens = 0;
  let downs = [];
  const backoff = fixedBackoff();
  const s = new PollSocket('ws://x/ws?poll=p', { onOpen: () => opens++, onFrame: (f) => got.push(f), onDown: (c) => downs.push(c) }, { WS: FakeWS, backoff, win: {} });
  assert.equal(s.send({ a: 1 }), false, 'nothing open yet');
  s.connect();
  const ws = FakeWS.all[0];
  ws.open();
  assert.equal(opens, 1);
  assert.equal(s.send({ type: 'vote' }), true);
  assert.deepEqual(ws.sent, [{ type: 'vote' }]);
  ws.msg({ type: 'results', poll: 'p', state: 'open', counts: [1, 2], total: 3, later: 'a field this page does not know' });
  ws.onmessage({ data: 'not json' });
  ws.msg({ type: 'results' }); // no poll, no state: not a frame to show
  ws.msg({ type: 'unknown-to-this-page' });
  assert.deepEqual(got, [{ type: 'results', poll: 'p', state: 'open', hidden: false, counts: [1, 2], total: 3 }]);
  assert.equal(backoff.resets, 1);
  ws.drop(1001);
  assert.deepEqual(downs, [1001]);
  assert.equal(s.send({}), false);
  await until(() => FakeWS.all.length === 2);
  FakeWS.all[1].open();
  assert.equal(opens, 2);
  s.stop();
  assert.equal(FakeWS.all[1].closedWith, 1000);
  FakeWS.all[1].drop(1000);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(FakeWS.all.length, 2, 'no reconnect after stop');
});

test('policy close (1008) waits at least 10 s', () => {
  FakeWS.all = [];
  const s = new PollSocket('ws://x', {}, { WS: FakeWS, backoff: fixedBackoff(), win: {} });
  const realSetTimeout = globalThis.setTimeout;
  let asked = -1;
  globalThis.setTimeout = (f, d) => { asked = d; return 0; };
  try {
    s.connect();
    FakeWS.all[0].drop(1008);
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  assert.equal(asked, 10000);
  s.stop();
});

test('coming back online reconnects at once', () => {
  FakeWS.all = [];
  const listeners = {};
  const win = { addEventListener: (k, f) => { listeners[k] = f; }, removeEventListener: () => {} };
  const s = new PollSocket('ws://x', {}, { WS: FakeWS, backoff: { next: () => 60000, reset() {} }, win });
  s.connect();
  FakeWS.all[0].drop(1006);
  assert.equal(FakeWS.all.length, 1);
  listeners.online();
  assert.equal(FakeWS.all.length, 2);
  s.stop();
});

test('an anonymous viewer keeps its id across reconnects without cookies', async () => {
  FakeWS.all = [];
  const items = new Map();
  const win = { localStorage: { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v) } };
  const got = [];
  const s = new PollSocket(socketURL({ protocol: 'http:', host: 'h' }, 'p1', '', win), { onFrame: (f) => got.push(f) }, { WS: FakeWS, backoff: fixedBackoff(), win });
  s.connect();
  FakeWS.all[0].open();
  FakeWS.all[0].msg({ type: 'hello', viewer: 'abc.sig' });
  assert.deepEqual(got, [], 'hello is not a page frame');
  assert.equal(items.get('votecast.viewer'), 'abc.sig');
  FakeWS.all[0].drop(1006);
  await until(() => FakeWS.all.length === 2);
  assert.equal(FakeWS.all[1].url, 'ws://h/ws?poll=p1&viewer=abc.sig');
  assert.equal(socketURL({ protocol: 'http:', host: 'h' }, 'p2', '', win), 'ws://h/ws?poll=p2&viewer=abc.sig', 'a reload presents it too');
  assert.equal(socketURL({ protocol: 'http:', host: 'h' }, 'p2', 'tok', win), 'ws://h/ws?poll=p2&token=tok', 'a partner token wins');
  s.stop();
});
