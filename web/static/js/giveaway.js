// giveaway: what an entrant of a giveaway can tell on its own, and asking
// the server for the rest. Every totals frame of a giveaway carries
// {prizes, winners, left, sold_out, cutoff, answer}: cutoff (once sold
// out) is the log sequence of the last winning entry and answer (a quiz's,
// once sold out or closed) the option that was right. With its receipt
// (the entry's seq and option) an entrant knows at once whether it won:
// its entry is eligible (no answer, or on it) and at or before the cutoff.
// A giveaway closed before selling out gave every eligible entry a prize.
// The rank and the claim code come from GET /api/polls/{id}/outcome, asked
// as the viewer (the socket's identity). Pure module: fetch is given.

export const WON = 'won';
export const LOST = 'lost';
export const PENDING = 'pending';
export const NOT_ENTERED = 'none';

const count = (x) => (Number.isSafeInteger(Number(x)) && Number(x) >= 0 ? Number(x) : 0);

// giveawayOf returns a results frame's giveaway totals with numbers
// checked, or null when the frame has none.
export function giveawayOf(frame) {
  const g = frame?.giveaway;
  if (!g || typeof g !== 'object') return null;
  const prizes = count(g.prizes);
  const winners = Math.min(count(g.winners), prizes || Infinity);
  return {
    prizes,
    winners,
    left: g.left === undefined ? Math.max(0, prizes - winners) : count(g.left),
    soldOut: g.sold_out === true,
    cutoff: count(g.cutoff),
    answer: Number.isInteger(g.answer) && g.answer >= 0 ? g.answer : null,
  };
}

// entryOf is the viewer's entry among its receipts: a giveaway takes one
// per viewer, so the first in log order.
export function entryOf(receipts) {
  return Array.isArray(receipts) && receipts.length ? receipts[0] : null;
}

// outcome tells an entrant with receipt ({seq, option}, or null for a
// viewer who did not enter) where it stands by frame ({state, giveaway}):
// WON, LOST, PENDING (not decided yet) or NOT_ENTERED.
export function outcome(frame, receipt) {
  if (!receipt || !Number.isSafeInteger(receipt.seq) || receipt.seq <= 0) return NOT_ENTERED;
  const g = giveawayOf(frame);
  if (!g) return PENDING;
  const eligible = g.answer === null || receipt.option === g.answer;
  if (g.soldOut) {
    if (!g.cutoff) return PENDING; // never sent: sold out always names its cutoff
    return eligible && receipt.seq <= g.cutoff ? WON : LOST;
  }
  if (frame.state === 'closed') return eligible ? WON : LOST;
  return PENDING;
}

// isClaimCode tells a claim code's shape: a JWT, three non-empty
// base64url parts joined by dots.
export function isClaimCode(s) {
  return typeof s === 'string' && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s);
}

export const outcomePath = (poll, identity = '') => `/api/polls/${encodeURIComponent(poll)}/outcome${identity}`;

// fetchOutcome asks the server whether this viewer won poll; identity is
// the query string that says who they are (waitroom.js identityQuery; the
// cookie goes by itself). It answers {won: true, entry, rank, claim},
// {won: false}, {undecided: true} (409: not every prize is won and the
// giveaway is open), or {error: status} (0: the network).
export async function fetchOutcome(poll, identity, fetchFn = globalThis.fetch) {
  let res;
  try {
    res = await fetchFn(outcomePath(poll, identity), { headers: { Accept: 'application/json' }, cache: 'no-store' });
  } catch {
    return { error: 0 };
  }
  if (res.status === 409) return { undecided: true };
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (res.status !== 200 || !body || typeof body.won !== 'boolean') return { error: res.status || 0 };
  if (!body.won) return { won: false };
  if (!isClaimCode(body.claim)) return { error: res.status };
  return { won: true, entry: count(body.entry), rank: count(body.rank), claim: body.claim };
}
