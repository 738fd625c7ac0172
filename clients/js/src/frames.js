// frames: the frames of votecast's viewer WebSocket (docs/protocol.md),
// the one place they are parsed and encoded, for the client and the
// viewer pages alike (web/static/js imports this file, as backoff.js).
// Plain JavaScript with JSDoc types: tsc checks it and writes its .d.ts.
// Parsing checks every field it reads and skips every field it does not
// know, so what a newer server adds never breaks a client; a frame of a
// type it does not know is dropped.

/** @typedef {'accepted' | 'duplicate' | 'rejected' | 'retry'} Status What the server answers about one vote frame. */

/** @typedef {'draft' | 'open' | 'closing' | 'closed'} PollState Where a poll is in its life; it only moves forward. */

/** Limits the server checks on every vote frame (schema/frame.go, schema/poll.go). */
export const MAX_OPTIONS = 32;
export const MAX_COUNT = 100;
export const MAX_KEY_BYTES = 64;
const KEY = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The answer to one vote frame, as the server sent it.
 * @typedef {object} Ack
 * @property {'ack'} type
 * @property {string} id The vote's client key.
 * @property {string} status One of Status; kept as sent, so a status this client does not know shows.
 * @property {string} reason votecast's own words; '' when the server gave none.
 * @property {number} [retry_after_ms] Set on 'retry': send the same frame again no sooner than this.
 * @property {number} [seq] The vote's place in the poll's log: its receipt (on accepted, and on some "already counted").
 */

/**
 * Where a giveaway stands, in every totals frame of one.
 * @typedef {object} GiveawayTotals
 * @property {number} prizes
 * @property {number} winners
 * @property {number} left
 * @property {boolean} sold_out
 * @property {number} [cutoff] The log sequence of the last winning entry, once sold out.
 * @property {number} [answer] A quiz's right option, once sold out or closed.
 */

/**
 * A poll's live totals frame ("results" on the wire).
 * @typedef {object} Totals
 * @property {'results'} type
 * @property {string} poll
 * @property {PollState} state
 * @property {boolean} hidden True while the poll's results are hidden: counts and total are left out.
 * @property {number[]} [counts]
 * @property {number} [total]
 * @property {GiveawayTotals} [giveaway]
 */

/**
 * An anonymous viewer's sealed id, the first frame of its connection.
 * @typedef {object} Hello
 * @property {'hello'} type
 * @property {string} viewer
 */

/**
 * The server's word on a frame that is not a vote it can take.
 * @typedef {object} ErrorFrame
 * @property {'error'} type
 * @property {string} reason
 */

/** @typedef {Ack | Totals | Hello | ErrorFrame} ServerFrame */

/**
 * The one frame a client sends.
 * @typedef {object} VoteFrame
 * @property {'vote'} type
 * @property {string} id
 * @property {number} option
 * @property {number} [count]
 */

/** @typedef {Record<string, unknown>} Obj */

/** @type {(x: unknown) => x is Obj} */
const isObj = (x) => typeof x === 'object' && x !== null && !Array.isArray(x);
/** @type {(x: unknown) => x is number} */
const isCount = (x) => Number.isSafeInteger(x) && /** @type {number} */ (x) >= 0;
/** @type {(x: unknown) => string} */
const str = (x) => (typeof x === 'string' ? x : '');

/**
 * isKey reports whether s can be a vote's client key.
 * @param {string} s
 * @returns {boolean}
 */
export const isKey = (s) => KEY.test(s);

/**
 * parseFrame reads one text frame from the server; null for anything it cannot use.
 * @param {string} text
 * @returns {ServerFrame | null}
 */
export function parseFrame(text) {
  /** @type {unknown} */
  let f;
  try {
    f = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(f)) return null;
  switch (f.type) {
    case 'ack':
      return parseAck(f);
    case 'results':
      return parseTotals(f);
    case 'hello':
      return typeof f.viewer === 'string' && f.viewer ? { type: 'hello', viewer: f.viewer } : null;
    case 'error':
      return { type: 'error', reason: str(f.reason) };
  }
  return null;
}

/**
 * @param {Obj} f
 * @returns {Ack | null}
 */
function parseAck(f) {
  if (typeof f.id !== 'string' || typeof f.status !== 'string') return null;
  /** @type {Ack} */
  const a = { type: 'ack', id: f.id, status: f.status, reason: str(f.reason) };
  if (isCount(f.retry_after_ms)) a.retry_after_ms = f.retry_after_ms;
  if (isCount(f.seq) && f.seq > 0) a.seq = f.seq;
  return a;
}

/**
 * @param {Obj} f
 * @returns {Totals | null}
 */
function parseTotals(f) {
  if (typeof f.poll !== 'string' || typeof f.state !== 'string') return null;
  /** @type {Totals} */
  const t = { type: 'results', poll: f.poll, state: /** @type {PollState} */ (f.state), hidden: f.hidden === true };
  if (!t.hidden && Array.isArray(f.counts) && f.counts.every(isCount)) {
    const counts = /** @type {number[]} */ (f.counts);
    t.counts = counts;
    t.total = isCount(f.total) ? f.total : counts.reduce((a, b) => a + b, 0);
  }
  if (isObj(f.giveaway)) {
    const g = f.giveaway;
    const prizes = isCount(g.prizes) ? g.prizes : 0;
    const winners = isCount(g.winners) ? g.winners : 0;
    t.giveaway = { prizes, winners, left: isCount(g.left) ? g.left : Math.max(0, prizes - winners), sold_out: g.sold_out === true };
    if (isCount(g.cutoff) && g.cutoff > 0) t.giveaway.cutoff = g.cutoff;
    if (isCount(g.answer)) t.giveaway.answer = g.answer;
  }
  return t;
}

/**
 * voteFrame encodes a vote; count is left out when undefined (the server reads 1).
 * @param {string} key
 * @param {number} option
 * @param {number} [count]
 * @returns {string}
 */
export function voteFrame(key, option, count) {
  /** @type {VoteFrame} */
  const f = { type: 'vote', id: key, option };
  if (count !== undefined) f.count = count;
  return JSON.stringify(f);
}

/**
 * newKey returns a fresh client key: 16 characters of [A-Za-z0-9_-] from
 * 12 random bytes.
 * @param {(n: number) => Uint8Array} [randomBytes] Random bytes; zero value: crypto.getRandomValues.
 * @returns {string}
 */
export function newKey(randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n))) {
  const b = randomBytes(12);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_');
}
