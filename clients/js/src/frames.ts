// frames: the frames of votecast's viewer WebSocket (docs/protocol.md) as
// types, and the one place they are parsed and encoded. Parsing checks
// every field it reads and skips every field it does not know, so what a
// newer server adds never breaks this client; a frame of a type it does
// not know is dropped.

/** What the server answers about one vote frame. */
export type Status = 'accepted' | 'duplicate' | 'rejected' | 'retry';

/** Where a poll is in its life; it only moves forward. */
export type PollState = 'draft' | 'open' | 'closing' | 'closed';

/** Limits the server checks on every vote frame (schema/frame.go, schema/poll.go). */
export const MAX_OPTIONS = 32;
export const MAX_COUNT = 100;
export const MAX_KEY_BYTES = 64;
const KEY = /^[A-Za-z0-9_-]{1,64}$/;

/** The answer to one vote frame, as the server sent it. */
export interface Ack {
  type: 'ack';
  /** The vote's client key. */
  id: string;
  /** One of Status; kept as sent, so a status this client does not know shows. */
  status: string;
  /** votecast's own words; '' when the server gave none. */
  reason: string;
  /** Set on 'retry': send the same frame again no sooner than this. */
  retry_after_ms?: number;
  /** The vote's place in the poll's log: its receipt (on accepted, and on some "already counted"). */
  seq?: number;
}

/** Where a giveaway stands, in every totals frame of one. */
export interface GiveawayTotals {
  prizes: number;
  winners: number;
  left: number;
  sold_out: boolean;
  /** The log sequence of the last winning entry, once sold out. */
  cutoff?: number;
  /** A quiz's right option, once sold out or closed. */
  answer?: number;
}

/** A poll's live totals frame ("results" on the wire). */
export interface Totals {
  type: 'results';
  poll: string;
  state: PollState;
  /** True while the poll's results are hidden: counts and total are left out. */
  hidden: boolean;
  counts?: number[];
  total?: number;
  giveaway?: GiveawayTotals;
}

/** An anonymous viewer's sealed id, the first frame of its connection. */
export interface Hello {
  type: 'hello';
  viewer: string;
}

/** The server's word on a frame that is not a vote it can take. */
export interface ErrorFrame {
  type: 'error';
  reason: string;
}

export type ServerFrame = Ack | Totals | Hello | ErrorFrame;

/** The one frame a client sends. */
export interface VoteFrame {
  type: 'vote';
  id: string;
  option: number;
  count?: number;
}

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const str = (x: unknown): string => (typeof x === 'string' ? x : '');

/** isKey reports whether s can be a vote's client key. */
export const isKey = (s: string): boolean => KEY.test(s);

/** parseFrame reads one text frame from the server; null for anything it cannot use. */
export function parseFrame(text: string): ServerFrame | null {
  let f: unknown;
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

function parseAck(f: Obj): Ack | null {
  if (typeof f.id !== 'string' || typeof f.status !== 'string') return null;
  const a: Ack = { type: 'ack', id: f.id, status: f.status, reason: str(f.reason) };
  if (isCount(f.retry_after_ms)) a.retry_after_ms = f.retry_after_ms;
  if (isCount(f.seq) && f.seq > 0) a.seq = f.seq;
  return a;
}

function parseTotals(f: Obj): Totals | null {
  if (typeof f.poll !== 'string' || typeof f.state !== 'string') return null;
  const t: Totals = { type: 'results', poll: f.poll, state: f.state as PollState, hidden: f.hidden === true };
  if (!t.hidden && Array.isArray(f.counts) && f.counts.every(isCount)) {
    t.counts = f.counts;
    t.total = isCount(f.total) ? f.total : f.counts.reduce((a, b) => a + b, 0);
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

/** voteFrame encodes a vote; count is left out when undefined (the server reads 1). */
export function voteFrame(key: string, option: number, count?: number): string {
  const f: VoteFrame = { type: 'vote', id: key, option };
  if (count !== undefined) f.count = count;
  return JSON.stringify(f);
}

/** newKey returns a fresh client key: 16 characters of [A-Za-z0-9_-] from 12 random bytes. */
export function newKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_');
}
