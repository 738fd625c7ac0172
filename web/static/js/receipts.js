// receipts: the numbers of a viewer's counted votes in one poll. A
// counted vote's ack carries its place in the poll's log (seq); with the
// option it went to, that is what the verify page needs to find the vote
// in the results certificate once the poll closes. They are kept per poll
// apart from the ballot, whose trimming must never drop one. Pure module:
// storage is given (localStorage or null).

const MAX_KEPT = 100; // a budget poll's votes are far fewer

export const receiptsKey = (poll) => `votecast.receipts.${poll}`;

const valid = (r) => r && Number.isSafeInteger(r.seq) && r.seq > 0 && Number.isInteger(r.option) && r.option >= 0;

export function loadReceipts(store, poll) {
  try {
    const list = JSON.parse(store?.getItem(receiptsKey(poll)) || '[]');
    return Array.isArray(list) ? list.filter(valid).map(({ seq, option }) => ({ seq, option })) : [];
  } catch {
    return []; // blocked storage or a bad entry
  }
}

// addReceipt returns list with {seq, option} added once (a resend answered
// "already counted" repeats its seq), in log order, the newest kept.
export function addReceipt(list, seq, option) {
  const r = { seq, option };
  if (!valid(r) || list.some((x) => x.seq === seq)) return list;
  return [...list, r].sort((a, b) => a.seq - b.seq).slice(-MAX_KEPT);
}

export function saveReceipts(store, poll, list) {
  try { store?.setItem(receiptsKey(poll), JSON.stringify(list)); } catch { /* full or blocked */ }
}

// verifyURL is the verify page's address for one receipt.
export function verifyURL(poll, r) {
  return `/verify?poll=${encodeURIComponent(poll)}&seq=${r.seq}&option=${r.option}`;
}
