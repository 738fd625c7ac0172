import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WaitingRoom, lineEstimate, pollDelay, identityQuery } from '../static/js/waitroom.js';
import { PollSocket, withTicket } from '../static/js/socket.js';

test('lineEstimate: the number in line and the wait', () => {
  assert.deepEqual(lineEstimate(10, 4, 2), { number: 6, etaMs: 3000 });
  assert.deepEqual(lineEstimate(10, 4, 0), { number: 6, etaMs: -1 }, 'rate 0: the line does not move');
  assert.deepEqual(lineEstimate(10, 12, 5), { number: 0, etaMs: 0 }, 'let in');
  assert.deepEqual(lineEstimate(1, 0, 3), { number: 1, etaMs: 334 });
});

test('pollDelay: a quarter of the wait, 1 s to 10 s, ±30% jitter', () => {
  const mid = () => 0.5;
  const cases = [
    [-1, 10000],
    [NaN, 10000],
    [0, 1000],
    [2000, 1000],
    [20000, 5000],
    [40000, 10000],
    [3_600_000, 10000],
  ];
  for (const [eta, want] of cases) assert.equal(pollDelay(eta, mid), want, `eta ${eta}`);
  assert.equal(pollDelay(20000, () => 0), 3500);
  assert.equal(pollDelay(20000, () => 1), 6500);
  assert.equal(pollDelay(-1, () => 0), 7000);
  assert.equal(pollDelay(0, () => 1), 1300);
});

test('identityQuery: token, else the anonymous viewer', () => {
  assert.equal(identityQuery('ws://h/ws?poll=p&token=a.b%20c'), '?token=a.b%20c');
  assert.equal(identityQuery('wss://h/ws?poll=p&viewer=x.y&ticket=t'), '?viewer=x.y');
  assert.equal(identityQuery('ws://h/ws?poll=p&ticket=t'), '');
  assert.equal(identityQuery('not a url'), '');
});

test('withTicket puts the ticket on once, and takes it off', () => {
  const u = 'ws://h/ws?poll=p&viewer=v';
  const a = withTicket(u, 'a+b/c.d');
  assert.equal(a, 'ws://h/ws?poll=p&viewer=v&ticket=a%2Bb%2Fc.d');
  assert.equal(withTicket(a, 'x'), 'ws://h/ws?poll=p&viewer=v&ticket=x');
  assert.equal(withTicket(a, ''), u);
});

// A fake server for the room: answers queued per path, and the requests seen.
function fakeFetch(routes) {
  const calls = [];
  const f = async (url, init = {}) => {
    calls.push({ url, method: init.method || 'GET', body: init.body ? JSON.parse(init.body) : undefined });
    const path = url.split('?')[0];
    const answers = routes[path];
    const a = Array.isArray(answers) ? (answers.length > 1 ? answers.shift() : answers[0]) : answers;
    if (!a || a === 'network') throw new TypeError('Failed to fetch');
    return { ok: a.status >= 200 && a.status < 300, status: a.status, json: async () => a.body, text: async () => JSON.stringify(a.body) };
  };
  f.calls = calls;
  return f;
}

function fakeSocket(url = 'ws://h/ws?poll=p1') {
  return {
    url,
    log: [],
    retry() { this.log.push('retry'); },
    connectNow() { this.log.push('connect'); },
    setTicket(t) { this.url = withTicket(this.url, t); },
    setViewer(v) { this.viewer = v; this.url = this.url.replace(/&viewer=[^&]*/, '') + `&viewer=${v}`; },
  };
}

function memory() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, v), removeItem: (k) => m.delete(k), m };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const later = new Date(Date.now() + 3600_000).toISOString();

test('refused without a ticket: join, wait in line, connect with the ticket when let in', async () => {
  const fetch = fakeFetch({
    '/api/polls/p1/queue': { status: 200, body: { admit: false, ticket: 'T1', place: 7, serving: 4, ahead: 2, rate: 0, eta_ms: -1, expires_at: later, viewer: 'anon.sig' } },
    '/api/queue': [{ status: 200, body: { serving: 5, last: 9, waiting: 4, rate: 0, admitted: 5 } }, { status: 200, body: { serving: 7, last: 9, waiting: 2, rate: 2, admitted: 7 } }],
  });
  const socket = fakeSocket();
  const session = memory();
  let changes = 0;
  const room = new WaitingRoom({ poll: 'p1', socket, session, fetch, win: {}, random: () => 0.5, onChange: () => changes++ });
  try {
    assert.equal(room.refused(), true, 'the room takes the reconnect over');
    await settle();
    assert.equal(fetch.calls[0].method, 'POST');
    assert.equal(room.phase, 'waiting');
    assert.deepEqual(room.estimate(), { number: 3, etaMs: -1 });
    assert.equal(room.start, 3);
    assert.equal(socket.viewer, 'anon.sig', 'the sealed id is kept for the socket');
    assert.equal(socket.url, 'ws://h/ws?poll=p1&viewer=anon.sig&ticket=T1');
    assert.equal(JSON.parse(session.getItem('votecast.ticket.p1')).ticket, 'T1', 'a reload keeps the ticket');
    assert.deepEqual(socket.log, [], 'held: no connect while in line');

    await room.check();
    assert.equal(room.phase, 'waiting');
    assert.deepEqual(room.estimate(), { number: 2, etaMs: -1 });
    await room.check();
    assert.equal(room.phase, 'turn');
    assert.deepEqual(socket.log, ['connect']);
    room.opened();
    assert.equal(room.phase, 'off');
    assert.ok(changes >= 3);
    assert.deepEqual(fetch.calls.map((c) => c.url), ['/api/polls/p1/queue', '/api/queue', '/api/queue']);
  } finally {
    room.stop();
  }
});

test('join: room and nobody waits, let in at once, and errors', async () => {
  const cases = [
    { name: 'room', answer: { status: 200, body: { admit: true, serving: 3, ahead: 0, rate: 0, eta_ms: 0 } }, phase: 'off', log: ['retry'], ticket: '' },
    { name: 'let in', answer: { status: 200, body: { admit: true, ticket: 'T2', place: 3, serving: 3, expires_at: later } }, phase: 'turn', log: ['connect'], ticket: 'T2' },
    { name: 'room unavailable', answer: { status: 503, body: { error: 'waiting room unavailable, try again shortly' } }, phase: 'off', log: ['retry'], ticket: '' },
    { name: 'no network', answer: 'network', phase: 'off', log: ['retry'], ticket: '' },
  ];
  for (const c of cases) {
    const socket = fakeSocket('ws://h/ws?poll=p1&token=tok');
    const fetch = fakeFetch({ '/api/polls/p1/queue': c.answer });
    const room = new WaitingRoom({ poll: 'p1', socket, fetch, win: {} });
    room.refused();
    await settle();
    assert.equal(room.phase, c.phase, c.name);
    assert.deepEqual(socket.log, c.log, c.name);
    assert.equal(room.ticket, c.ticket, c.name);
    assert.equal(fetch.calls[0].url, '/api/polls/p1/queue?token=tok', `${c.name}: the identity of the socket`);
    room.stop();
  }
});

test('a ticket let in is retried with the backoff; the third refusal in a row joins again', async () => {
  const socket = fakeSocket();
  const fetch = fakeFetch({ '/api/polls/p1/queue': { status: 200, body: { admit: true, ticket: 'T3', place: 2, serving: 5, expires_at: later } } });
  const room = new WaitingRoom({ poll: 'p1', socket, fetch, win: {} });
  room.refused();
  await settle();
  assert.deepEqual(socket.log, ['connect']);
  room.refused();
  room.refused();
  assert.deepEqual(socket.log, ['connect', 'retry', 'retry']);
  assert.equal(fetch.calls.length, 1);
  room.refused();
  await settle();
  assert.equal(fetch.calls.length, 2, 'asked the server after 3 failures');
  assert.deepEqual(socket.log, ['connect', 'retry', 'retry', 'connect']);
  // Connected, then dropped (a phone's network): the same ticket again.
  room.opened();
  room.refused();
  assert.deepEqual(socket.log.at(-1), 'retry');
  room.stop();
});

test('a reload presents the saved ticket; an expired one is dropped', () => {
  const session = memory();
  session.setItem('votecast.ticket.p1', JSON.stringify({ ticket: 'T4', place: 9, expires_at: later }));
  session.setItem('votecast.ticket.p2', JSON.stringify({ ticket: 'T5', place: 9, expires_at: new Date(Date.now() - 1000).toISOString() }));
  const s1 = fakeSocket('ws://h/ws?poll=p1');
  new WaitingRoom({ poll: 'p1', socket: s1, session, fetch: fakeFetch({}), win: {} });
  assert.equal(s1.url, 'ws://h/ws?poll=p1&ticket=T4');
  const s2 = fakeSocket('ws://h/ws?poll=p2');
  new WaitingRoom({ poll: 'p2', socket: s2, session, fetch: fakeFetch({}), win: {} });
  assert.equal(s2.url, 'ws://h/ws?poll=p2');
});

test('votes from the line: acks, retry answers, refusals and a lost request', async () => {
  const frame = { type: 'vote', id: 'k1', option: 1 };
  const cases = [
    { name: 'accepted', answer: { status: 200, body: { type: 'ack', id: 'k1', status: 'accepted' } }, want: { ack: { type: 'ack', id: 'k1', status: 'accepted', reason: '' } } },
    { name: 'slow down', answer: { status: 429, body: { type: 'ack', id: 'k1', status: 'retry', reason: 'too many votes, slow down', retry_after_ms: 1000 } }, want: { ack: { type: 'ack', id: 'k1', status: 'retry', reason: 'too many votes, slow down', retry_after_ms: 1000 } } },
    { name: 'bad frame', answer: { status: 400, body: { error: 'option out of range' } }, want: { ack: { type: 'ack', id: 'k1', status: 'rejected', reason: 'option out of range' } } },
    { name: 'node busy', answer: { status: 503, body: { error: 'this node takes no votes' } }, want: { retryMs: 1000, lost: false } },
    { name: 'ticket refused', answer: { status: 403, body: { error: 'ticket refused: expired' } }, want: { retryMs: 1000, lost: false }, rejoins: true },
    { name: 'lost', answer: 'network', want: { retryMs: 1000, lost: true } },
  ];
  for (const c of cases) {
    const fetch = fakeFetch({
      '/api/polls/p1/queue/vote': c.answer,
      '/api/polls/p1/queue': { status: 200, body: { admit: false, ticket: 'T7', place: 3, serving: 1, rate: 0, eta_ms: -1, expires_at: later } },
    });
    const room = new WaitingRoom({ poll: 'p1', socket: fakeSocket('ws://h/ws?poll=p1&viewer=v.s'), fetch, win: {}, backoff: { next: () => 1000, reset() {} } });
    room.ticket = 'T6';
    const got = await room.vote(frame);
    assert.deepEqual(got, c.want, c.name);
    assert.equal(fetch.calls[0].url, '/api/polls/p1/queue/vote?viewer=v.s');
    assert.deepEqual(fetch.calls[0].body, { ticket: 'T6', vote: frame });
    await settle();
    assert.equal(fetch.calls.length, c.rejoins ? 2 : 1, `${c.name}: joins again only for a refused ticket`);
    room.stop();
  }
});

test('coming back to the foreground reads the line at once', async () => {
  const listeners = {};
  const doc = { visibilityState: 'hidden', addEventListener: (k, f) => { listeners[k] = f; } };
  const win = { addEventListener: (k, f) => { listeners[k] = f; }, document: doc };
  const fetch = fakeFetch({
    '/api/polls/p1/queue': { status: 200, body: { admit: false, ticket: 'T8', place: 5, serving: 0, rate: 0, eta_ms: -1, expires_at: later } },
    '/api/queue': { status: 200, body: { serving: 5, last: 5, waiting: 0, rate: 1, admitted: 5 } },
  });
  const socket = fakeSocket();
  const room = new WaitingRoom({ poll: 'p1', socket, fetch, win });
  room.refused();
  await settle();
  assert.equal(room.phase, 'waiting');
  doc.visibilityState = 'visible';
  listeners.visibilitychange();
  await settle();
  assert.equal(room.phase, 'turn');
  assert.deepEqual(socket.log, ['connect']);
  room.stop();
});

test('PollSocket: a connection refused before it opened is held for the room', async () => {
  const all = [];
  class WS {
    constructor(url) { this.url = url; all.push(this); }
    close() {}
  }
  const backoff = { next: () => 1, reset() {} };
  let refusedWith = 0;
  let take = true;
  const s = new PollSocket('ws://h/ws?poll=p', { onRefused: (c) => { refusedWith = c; return take; } }, { WS, backoff, win: {} });
  s.connect();
  all[0].onclose({ code: 1006 });
  assert.equal(refusedWith, 1006);
  assert.equal(s.held, true);
  s.wake();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(all.length, 1, 'held: neither the backoff nor a wake reconnects');
  s.setTicket('T');
  s.connectNow();
  assert.equal(all.length, 2);
  assert.equal(all[1].url, 'ws://h/ws?poll=p&ticket=T');
  // An open connection that drops is not a refusal.
  refusedWith = 0;
  all[1].onopen();
  all[1].onclose({ code: 1001 });
  assert.equal(refusedWith, 0);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(all.length, 3, 'reconnected with the backoff');
  // A handler that declines leaves the backoff to the socket.
  take = false;
  all[2].onclose({ code: 1006 });
  assert.equal(s.held, false);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(all.length, 4);
  s.stop();
});

test('PollSocket: a handler that retries at once leaves the socket unheld', async () => {
  const all = [];
  class WS {
    constructor(url) { this.url = url; all.push(this); }
    close() {}
  }
  const listeners = {};
  const win = { addEventListener: (k, f) => { listeners[k] = f; }, removeEventListener() {} };
  const s = new PollSocket('ws://h/ws?poll=p', { onRefused: () => { s.retry(); return true; } }, { WS, backoff: { next: () => 60000, reset() {} }, win });
  s.connect();
  all[0].onclose({ code: 1006 });
  assert.equal(s.held, false, 'retry() inside the handler wins');
  listeners.online();
  assert.equal(all.length, 2, 'coming back online reconnects at once');
  s.stop();
});

test('early: no place before the opening; asks again, then waits for its drawn place', async () => {
  const fetch = fakeFetch({
    '/api/polls/p1/queue': [
      { status: 200, body: { admit: false, early: true, serving: 0, retry_after_ms: 1 } },
      { status: 200, body: { admit: false, ticket: 'T', place: 7, serving: 2, rate: 1, eta_ms: 5000, expires_at: later } },
    ],
    '/api/queue': { status: 200, body: { serving: 3, rate: 1 } },
  });
  const socket = fakeSocket();
  const room = new WaitingRoom({ poll: 'p1', socket, fetch, random: () => 0.5 });
  room.refused();
  await settle();
  assert.equal(room.phase, 'waiting');
  assert.equal(room.early, true);
  await room.check(); // no place yet: the line says nothing to this viewer
  assert.deepEqual(socket.log, [], 'not let in before a place is drawn');
  await until(() => !room.early && room.place === 7); // the 1 ms retry_after_ms, then its join
  assert.equal(room.place, 7);
  assert.equal(room.phase, 'waiting');
  assert.deepEqual(socket.log, [], 'place 7 with serving 2: still waiting');
  room.stop();
});

// until polls cond every millisecond and fails after a second.
async function until(cond) {
  const deadline = Date.now() + 1000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail('condition still false after 1 s');
    await new Promise((r) => setTimeout(r, 1));
  }
}
