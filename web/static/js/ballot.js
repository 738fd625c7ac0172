// ballot: one viewer's votes in one poll, as a state machine with no I/O.
// The page feeds it the viewer's taps, the server's acks and the
// connection's ups and downs; it answers with the frames to send and the
// feedback to show. Every vote keeps its client key for life, so a resend
// after a reconnect is recognised by the server as the same vote.
//
// A vote is 'pending' until acked: in flight (sent on the current
// connection) or waiting (for a connection, or for a retry time the server
// gave). Acks move it to 'counted' (accepted), 'duplicate' or 'rejected'.
// A duplicate for a vote whose first send was lost with a connection is
// the server recognising our own resend: it is shown as counted. Keys are
// the JS client's (newKey), the same as partners' apps make.

import { newKey } from '../../../clients/js/src/frames.js';

export const PENDING = 'pending';
export const COUNTED = 'counted';
export const DUPLICATE = 'duplicate';
export const REJECTED = 'rejected';

const MAX_KEPT = 200; // votes remembered; pending and defining ones are always kept

function cryptoBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

export class Ballot {
  // rules: {votesPerUser, allowChange, options}; saved: from toJSON().
  constructor(rules, saved = null, randomBytes = cryptoBytes) {
    this.budget = Math.max(1, rules.votesPerUser || 1);
    this.allowChange = !!rules.allowChange;
    this.options = rules.options;
    this.randomBytes = randomBytes;
    this.votes = [];
    this.exhausted = false; // the server said no votes are left
    this.closed = false;
    if (saved && Array.isArray(saved.votes)) {
      for (const v of saved.votes) {
        if (typeof v.key !== 'string' || !Number.isInteger(v.option)) continue;
        // A vote pending when the page went away may or may not have
        // reached the server: resend it with its key on the next connect.
        const lost = v.status === PENDING;
        this.votes.push({ ...v, inFlight: false, retryAt: 0, lost: v.lost || lost });
      }
      this.exhausted = !!saved.exhausted;
    }
  }

  isBudget() { return this.budget > 1; }

  // live are the votes that hold (or are about to hold) part of the ballot.
  live() { return this.votes.filter((v) => v.status === COUNTED || v.status === PENDING); }

  // shares is how many of the viewer's votes sit on each option.
  shares() {
    const s = new Array(this.options).fill(0);
    if (this.allowChange) {
      // Each vote sets its option's share (budget) or moves the one vote.
      if (this.isBudget()) {
        for (const v of this.live()) s[v.option] = v.count;
      } else {
        const last = this.live().at(-1);
        if (last) s[last.option] = 1;
      }
      return s;
    }
    for (const v of this.live()) s[v.option] += this.isBudget() ? v.count : 1;
    return s;
  }

  used() { return this.shares().reduce((a, b) => a + b, 0); }

  votesLeft() {
    if (this.exhausted && !this.allowChange) return 0;
    return Math.max(0, this.budget - this.used());
  }

  // canCast tells whether a tap on option would send anything.
  canCast(option, delta = 1) {
    if (this.closed || option < 0 || option >= this.options) return false;
    const share = this.shares()[option];
    if (this.allowChange && !this.isBudget()) return share === 0;
    if (delta < 0) return this.allowChange && share > 0;
    return this.votesLeft() > 0;
  }

  // cast records a tap (delta -1 takes a vote back on a change-allowed
  // budget poll) and returns the new vote, or null when nothing is sent.
  cast(option, delta = 1) {
    if (!this.canCast(option, delta)) return null;
    const v = { key: newKey(this.randomBytes), option, status: PENDING, inFlight: false, retryAt: 0, lost: false, sends: 0 };
    if (this.isBudget()) v.count = this.allowChange ? this.shares()[option] + delta : 1;
    this.votes.push(v);
    this.trim();
    return v;
  }

  frame(v) {
    const f = { type: 'vote', id: v.key, option: v.option };
    if (v.count !== undefined) f.count = v.count;
    return f;
  }

  // due returns the frames to send now on an open connection and marks
  // them in flight. Votes go in the order they were cast.
  due(now) {
    const out = [];
    for (const v of this.votes) {
      if (v.status !== PENDING || v.inFlight || v.retryAt > now) continue;
      v.inFlight = true;
      v.sends = (v.sends || 0) + 1;
      out.push(this.frame(v));
    }
    return out;
  }

  // nextRetryAt is the earliest time a waiting vote may be sent, or 0.
  nextRetryAt() {
    let t = 0;
    for (const v of this.votes) {
      if (v.status === PENDING && !v.inFlight && v.retryAt > 0 && (t === 0 || v.retryAt < t)) t = v.retryAt;
    }
    return t;
  }

  // unanswered: the vote with key was sent outside the socket (over HTTP,
  // from the waiting room) and no ack came back. lost says it may have
  // arrived all the same (the request went out, the answer did not come);
  // it is sent again, with its key, after retryMs.
  unanswered(key, now, retryMs, lost) {
    const v = this.votes.find((x) => x.key === key);
    if (!v || v.status !== PENDING) return;
    v.inFlight = false;
    v.lost = v.lost || !!lost;
    v.retryAt = retryMs > 0 ? now + retryMs : 0;
  }

  // disconnected: whatever was in flight may or may not have arrived.
  disconnected() {
    for (const v of this.votes) {
      if (v.status === PENDING && v.inFlight) {
        v.inFlight = false;
        v.lost = true;
      }
    }
  }

  // ack applies a server ack; it returns the vote it settled or moved, or
  // null for an ack of a key this ballot does not know.
  ack(a, now) {
    const v = this.votes.find((x) => x.key === a.id);
    if (!v || v.status !== PENDING) return null;
    v.inFlight = false;
    v.reason = a.reason || '';
    switch (a.status) {
      case 'accepted':
        v.status = COUNTED;
        break;
      case 'duplicate':
        if (v.lost) {
          v.status = COUNTED; // the server already has our own earlier send
        } else {
          v.status = DUPLICATE;
          if (!this.allowChange) this.exhausted = true;
        }
        break;
      case 'retry':
        v.retryAt = now + Math.max(100, a.retry_after_ms || 1000);
        break;
      default: // rejected, or anything unknown
        v.status = REJECTED;
        if (/clos/i.test(v.reason)) this.close();
    }
    return v;
  }

  // close: the poll stopped taking votes. Pending votes stay pending: the
  // server decides whether they made it before the close.
  close() { this.closed = true; }

  hasPending() { return this.votes.some((v) => v.status === PENDING); }

  // feedback is what the status line says about the latest vote:
  // {key, n?} with key one of sending, waiting, retryIn, counted,
  // alreadyVoted, noVotesLeft, votingClosed, invalid; or null.
  feedback(now, connected) {
    const v = this.votes.at(-1);
    if (!v) return this.closed ? { key: 'votingClosed' } : null;
    switch (v.status) {
      case PENDING:
        if (v.retryAt > now && !v.inFlight) return { key: 'retryIn', n: Math.max(1, Math.ceil((v.retryAt - now) / 1000)) };
        return { key: connected ? 'sending' : 'waiting' };
      case COUNTED:
        return { key: 'counted' };
      case DUPLICATE:
        return { key: this.isBudget() ? 'noVotesLeft' : 'alreadyVoted' };
      default:
        return { key: this.closed ? 'votingClosed' : 'invalid' };
    }
  }

  // trim forgets the oldest votes that no longer matter: refused ones, and
  // on change-allowed polls the ones a later vote superseded. Counted votes
  // of other polls are bounded by the budget and always kept.
  trim() {
    if (this.votes.length <= MAX_KEPT) return;
    const defining = new Set(this.allowChange ? this.lastPerOption() : this.live());
    let excess = this.votes.length - MAX_KEPT;
    this.votes = this.votes.filter((v) => {
      if (excess <= 0 || v.status === PENDING || defining.has(v)) return true;
      excess--;
      return false;
    });
  }

  lastPerOption() {
    if (!this.isBudget()) return this.live().slice(-1);
    const last = new Map();
    for (const v of this.live()) last.set(v.option, v);
    return [...last.values()];
  }

  // toJSON is what the page saves so a reload keeps the ballot and resends
  // what was never acked.
  toJSON() {
    return {
      votes: this.votes.map(({ key, option, count, status, lost }) => ({ key, option, count, status, lost })),
      exhausted: this.exhausted,
    };
  }
}
