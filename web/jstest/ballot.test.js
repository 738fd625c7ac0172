import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ballot, PENDING, COUNTED, DUPLICATE, REJECTED } from '../static/js/ballot.js';
import { newKey } from '../../clients/js/src/frames.js';

// keys gives each ballot a deterministic key source: a counter in the bytes.
const keys = () => {
  let n = 0;
  return (k) => { n++; return Uint8Array.from({ length: k }, (_, i) => (i === 0 ? n & 255 : i === 1 ? n >> 8 : i)); };
};
const one = (saved) => new Ballot({ votesPerUser: 1, allowChange: false, options: 3 }, saved, keys());

test('client keys are 16 chars of the allowed alphabet', () => {
  for (let i = 0; i < 50; i++) {
    const k = newKey((len) => crypto.getRandomValues(new Uint8Array(len)));
    assert.match(k, /^[A-Za-z0-9_-]{16}$/);
  }
});

test('one vote: sending, counted, then no more', () => {
  const b = one();
  const v = b.cast(1);
  assert.equal(v.status, PENDING);
  assert.deepEqual(b.feedback(0, true), { key: 'sending' });
  assert.deepEqual(b.due(0), [{ type: 'vote', id: v.key, option: 1 }]);
  assert.deepEqual(b.due(0), [], 'in flight: not sent twice');
  b.ack({ id: v.key, status: 'accepted' }, 10);
  assert.equal(v.status, COUNTED);
  assert.deepEqual(b.feedback(10, true), { key: 'counted' });
  assert.equal(b.votesLeft(), 0);
  assert.equal(b.cast(2), null);
  assert.deepEqual(b.shares(), [0, 1, 0]);
});

test('waiting while offline, sent on connect', () => {
  const b = one();
  const v = b.cast(0);
  assert.deepEqual(b.feedback(0, false), { key: 'waiting' });
  assert.equal(b.due(0).length, 1);
  assert.equal(v.sends, 1);
});

test('unacked vote is resent with the same key after a reconnect; duplicate then means counted', () => {
  const b = one();
  const v = b.cast(2);
  const [first] = b.due(0);
  b.disconnected();
  assert.equal(v.status, PENDING);
  assert.equal(b.feedback(0, false).key, 'waiting');
  const [again] = b.due(5);
  assert.deepEqual(again, first, 'same frame, same key');
  b.ack({ id: v.key, status: 'duplicate' }, 6);
  assert.equal(v.status, COUNTED);
  assert.equal(b.feedback(6, true).key, 'counted');
});

test('a duplicate for a first send is "already voted"', () => {
  const b = one();
  const v = b.cast(0);
  b.due(0);
  b.ack({ id: v.key, status: 'duplicate', reason: 'already voted' }, 1);
  assert.equal(v.status, DUPLICATE);
  assert.equal(b.feedback(1, true).key, 'alreadyVoted');
  assert.equal(b.votesLeft(), 0);
  assert.equal(b.cast(1), null);
});

test('retry waits retry_after_ms, counts down, then resends the same key', () => {
  const b = one();
  const v = b.cast(0);
  b.due(0);
  b.ack({ id: v.key, status: 'retry', retry_after_ms: 2500 }, 1000);
  assert.deepEqual(b.feedback(1000, true), { key: 'retryIn', n: 3 });
  assert.deepEqual(b.feedback(2600, true), { key: 'retryIn', n: 1 });
  assert.equal(b.nextRetryAt(), 3500);
  assert.deepEqual(b.due(3000), []);
  const f = b.due(3500);
  assert.equal(f.length, 1);
  assert.equal(f[0].id, v.key);
  // a duplicate after a plain retry is a real duplicate: the server said
  // it had not stored the first send.
  b.ack({ id: v.key, status: 'duplicate' }, 3600);
  assert.equal(v.status, DUPLICATE);
});

test('rejected because closed closes the ballot', () => {
  const b = one();
  const v = b.cast(0);
  b.due(0);
  b.ack({ id: v.key, status: 'rejected', reason: 'poll is closed' }, 1);
  assert.equal(v.status, REJECTED);
  assert.equal(b.closed, true);
  assert.equal(b.feedback(1, true).key, 'votingClosed');
  assert.equal(b.cast(1), null);
});

test('rejected for a bad option is "not accepted", the vote is given back', () => {
  const b = one();
  const v = b.cast(0);
  b.due(0);
  b.ack({ id: v.key, status: 'rejected', reason: 'invalid option' }, 1);
  assert.equal(b.feedback(1, true).key, 'invalid');
  assert.equal(b.votesLeft(), 1);
});

test('acks for unknown or settled keys are ignored', () => {
  const b = one();
  const v = b.cast(0);
  b.due(0);
  assert.equal(b.ack({ id: 'nope', status: 'accepted' }, 1), null);
  b.ack({ id: v.key, status: 'accepted' }, 1);
  assert.equal(b.ack({ id: v.key, status: 'rejected' }, 2), null);
  assert.equal(v.status, COUNTED);
});

test('one vote, change allowed: a new option moves the vote', () => {
  const b = new Ballot({ votesPerUser: 1, allowChange: true, options: 3 }, null, keys());
  const a = b.cast(0);
  b.due(0);
  b.ack({ id: a.key, status: 'accepted' }, 1);
  assert.equal(b.cast(0), null, 'same option: nothing to send');
  const c = b.cast(2);
  assert.deepEqual(b.due(2), [{ type: 'vote', id: c.key, option: 2 }]);
  assert.deepEqual(b.shares(), [0, 0, 1]);
  b.ack({ id: c.key, status: 'accepted' }, 3);
  assert.deepEqual(b.shares(), [0, 0, 1]);
  assert.equal(b.votesLeft(), 0);
});

test('budget: each tap adds one vote, votes left goes down, no-votes-left duplicate', () => {
  const b = new Ballot({ votesPerUser: 3, allowChange: false, options: 2 }, null, keys());
  const v1 = b.cast(0);
  const v2 = b.cast(0);
  const v3 = b.cast(1);
  assert.equal(b.votesLeft(), 0);
  assert.equal(b.cast(1), null);
  const frames = b.due(0);
  assert.deepEqual(frames.map((f) => [f.option, f.count]), [[0, 1], [0, 1], [1, 1]]);
  b.ack({ id: v1.key, status: 'accepted' }, 1);
  b.ack({ id: v2.key, status: 'accepted' }, 1);
  b.ack({ id: v3.key, status: 'duplicate', reason: 'no votes left' }, 1);
  assert.deepEqual(b.shares(), [2, 0]);
  assert.equal(b.votesLeft(), 0, 'the server says none are left');
  assert.equal(b.feedback(1, true).key, 'noVotesLeft');
});

test('budget with change: a vote sets the option share, minus takes one back', () => {
  const b = new Ballot({ votesPerUser: 5, allowChange: true, options: 2 }, null, keys());
  b.cast(0);
  b.cast(0);
  b.cast(1);
  assert.deepEqual(b.shares(), [2, 1]);
  assert.equal(b.votesLeft(), 2);
  const back = b.cast(0, -1);
  assert.equal(back.count, 1);
  assert.deepEqual(b.shares(), [1, 1]);
  assert.deepEqual(b.due(0).map((f) => [f.option, f.count]), [[0, 1], [0, 2], [1, 1], [0, 1]]);
  b.cast(1, -1);
  assert.deepEqual(b.shares(), [1, 0]);
  assert.equal(b.cast(1, -1), null, 'nothing left to take back');
  // a refused set falls back to the previous share
  const v = b.cast(1);
  b.due(1);
  b.ack({ id: v.key, status: 'duplicate', reason: 'no votes left' }, 2);
  assert.deepEqual(b.shares(), [1, 0]);
  assert.ok(b.votesLeft() > 0, 'change polls are not exhausted by one refusal');
});

test('saved ballot: pending votes are resent with their keys after a reload', () => {
  const b = one();
  const v = b.cast(1);
  b.due(0);
  const saved = JSON.parse(JSON.stringify(b));
  const r = one(saved);
  assert.deepEqual(r.shares(), [0, 1, 0]);
  assert.equal(r.votesLeft(), 0);
  const [f] = r.due(10);
  assert.equal(f.id, v.key);
  r.ack({ id: v.key, status: 'duplicate' }, 11);
  assert.equal(r.feedback(11, true).key, 'counted');
});

test('saved garbage is ignored', () => {
  const b = one({ votes: [{ key: 5 }, { key: 'k', option: 'x' }, null].filter(Boolean) });
  assert.equal(b.votes.length, 0);
  assert.equal(one('nonsense').votes.length, 0);
});

test('memory is bounded: refused votes are forgotten first', () => {
  const b = new Ballot({ votesPerUser: 1, allowChange: true, options: 2 }, null, keys());
  for (let i = 0; i < 500; i++) {
    const v = b.cast(i % 2);
    b.due(i);
    b.ack({ id: v.key, status: i === 499 ? 'accepted' : 'rejected', reason: 'invalid option' }, i);
  }
  assert.ok(b.votes.length <= 200, `${b.votes.length} votes kept`);
  assert.deepEqual(b.shares(), [0, 1]);
});

test('closing keeps pending votes pending (the server decides)', () => {
  const b = one();
  const v = b.cast(0);
  b.due(0);
  b.close();
  assert.equal(v.status, PENDING);
  b.ack({ id: v.key, status: 'accepted' }, 1);
  assert.equal(b.feedback(1, true).key, 'counted');
});

test('unanswered: a vote sent over HTTP without an answer is sent again with its key', () => {
  const b = new Ballot({ votesPerUser: 1, options: 2 }, null, keys());
  const v = b.cast(1);
  assert.deepEqual(b.due(0), [{ type: 'vote', id: v.key, option: 1 }]);
  b.unanswered(v.key, 0, 1000, true); // the request went out, no answer came
  assert.deepEqual(b.due(500), [], 'not before retryMs');
  assert.deepEqual(b.feedback(500, true), { key: 'retryIn', n: 1 });
  assert.equal(b.nextRetryAt(), 1000);
  assert.deepEqual(b.due(1000), [{ type: 'vote', id: v.key, option: 1 }], 'the same key');
  b.ack({ id: v.key, status: 'duplicate', reason: 'already counted' }, 1000);
  assert.equal(b.votes[0].status, COUNTED, 'a lost request that arrived is our own vote');
  const w = new Ballot({ votesPerUser: 1, options: 2 }, null, keys());
  const x = w.cast(0);
  w.due(0);
  w.unanswered(x.key, 0, 0, false);
  assert.equal(w.due(0).length, 1, 'retryMs 0: due at once');
  w.unanswered('nope', 0, 0, false);
});
