// certificate: checks a closed poll's results certificate and a viewer's
// receipt in the browser, so nobody has to take the server's word for
// either. The certificate's signature (Ed25519) says the payload is what
// the server's key signed; the receipt's inclusion proof (RFC 6962 Merkle
// tree, checked as RFC 9162 2.1.3.2 says) ties one vote of the log to the
// signed root. Every check answers {id, ok, reason, params}: reason is an
// i18n key (certtext.js), so this module holds no language and no DOM.
// WebCrypto exists only in a secure context (https or localhost): without
// it every check fails with that reason rather than passing unchecked.

export const FORMAT = 'votecast-certificate-v1';

const utf8 = (s) => new TextEncoder().encode(s);

function subtle() {
  return globalThis.crypto?.subtle || null;
}

export function base64Bytes(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4) return null;
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function hexBytes(s) {
  if (typeof s !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(...parts) {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await subtle().digest('SHA-256', all));
}

// leafLine is an entry's line in the export, byte for byte as the server
// writes it (certify.Entry.Line): these keys in this order. A receipt
// whose values were changed, or given another type, gives another line
// and so another leaf: the proof then fails, as it should.
export function leafLine(e) {
  if (e.bad) return JSON.stringify({ seq: e.seq, shard: e.shard, bad: true });
  if (e.close) return JSON.stringify({ seq: e.seq, shard: e.shard, close: true });
  return JSON.stringify({ seq: e.seq, shard: e.shard, user: e.user, key: e.key, option: e.option, count: e.count });
}

// leafHash is RFC 6962's leaf hash: the 0x00 prefix keeps a leaf from
// passing for an interior node.
export function leafHash(line) {
  return sha256(Uint8Array.of(0), utf8(line));
}

// verifyInclusion is RFC 9162 2.1.3.2, step for step. index and size may
// pass 2^31, where JavaScript's bit operators break: halving is done with
// division instead.
export async function verifyInclusion(index, size, leaf, proof, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  const odd = (n) => n % 2 === 1;
  const half = (n) => Math.floor(n / 2);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameBytes(r, root);
}

const pass = (id, params = {}) => ({ id, ok: true, reason: '', params });
const fail = (id, reason, params = {}) => ({ id, ok: false, reason, params });

// checkCertificate checks cert ({payload, signature}) and, when serverKey
// (the base64 key of /.well-known/votecast-key, '' if it could not be
// read) is given, that the payload names that key. It returns the parsed
// payload (null if it is not JSON) and the checks.
export async function checkCertificate(cert, serverKey) {
  let payload = null;
  try { payload = JSON.parse(cert.payload); } catch { /* reported below */ }
  const checks = [await checkSignature(cert, payload)];
  if (serverKey !== undefined) {
    const named = base64Bytes(payload?.public_key);
    const published = base64Bytes(serverKey);
    if (!published || !published.length) checks.push(fail('key', 'whyKeyUnread'));
    else if (!named || !sameBytes(named, published)) checks.push(fail('key', 'whyOtherKey'));
    else checks.push(pass('key'));
  }
  return { payload, checks };
}

async function checkSignature(cert, payload) {
  if (!payload || typeof payload !== 'object') return fail('signature', 'whyNotJSON');
  if (payload.format !== FORMAT) return fail('signature', 'whyFormat', { format: String(payload.format) });
  if (!Array.isArray(payload.options) || !Array.isArray(payload.totals) || payload.totals.length !== payload.options.length) {
    return fail('signature', 'whyMalformed');
  }
  const key = base64Bytes(payload.public_key);
  const sig = base64Bytes(cert.signature);
  if (!key || key.length !== 32) return fail('signature', 'whyKeyShape');
  if (!sig || sig.length !== 64) return fail('signature', 'whySigShape');
  if (!subtle()) return fail('signature', 'whyNoCrypto');
  let ok;
  try {
    const k = await subtle().importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
    ok = await subtle().verify('Ed25519', k, sig, utf8(cert.payload));
  } catch (e) {
    // NotSupportedError: a browser without Ed25519 in WebCrypto.
    return fail('signature', e?.name === 'NotSupportedError' ? 'whyNoEd25519' : 'whyBadKey');
  }
  return ok ? pass('signature') : fail('signature', 'whySigMismatch');
}

// isVote tells a vote's entry from a close marker or an undecodable one.
export function isVote(e) {
  return !!e && !e.close && !e.bad && typeof e.user === 'string' && Number.isInteger(e.option);
}

// checkReceipt checks a receipt ({poll, entry, index, size, proof}) for
// the vote numbered seq against the payload, and its option when option
// is an integer (what the viewer's browser remembers voting for).
export async function checkReceipt(payload, receipt, { seq, option = null }) {
  const e = receipt.entry || {};
  const checks = [];
  if (receipt.poll !== payload.poll) checks.push(fail('receipt', 'whyOtherPoll'));
  else if (e.seq !== seq) checks.push(fail('receipt', 'whyOtherSeq', { got: e.seq }));
  else if (!isVote(e)) checks.push(fail('receipt', 'whyNotVote'));
  else checks.push(pass('receipt'));
  if (Number.isInteger(option)) {
    checks.push(e.option === option ? pass('option', { option }) : fail('option', 'whyOtherOption', { got: e.option, want: option }));
  }
  checks.push(await checkInclusion(payload, receipt, e));
  return checks;
}

async function checkInclusion(payload, receipt, e) {
  if (receipt.size !== payload.entries) return fail('inclusion', 'whySize', { got: receipt.size, want: payload.entries });
  const root = hexBytes(payload.root);
  const proof = Array.isArray(receipt.proof) ? receipt.proof.map(hexBytes) : [null];
  if (!root || root.length !== 32 || proof.some((p) => !p || p.length !== 32)) return fail('inclusion', 'whyProofShape');
  if (!subtle()) return fail('inclusion', 'whyNoCrypto');
  const leaf = await leafHash(leafLine(e));
  const ok = await verifyInclusion(receipt.index, receipt.size, leaf, proof, root);
  return ok ? pass('inclusion') : fail('inclusion', 'whyRoot');
}

// getJSON fetches a public JSON document; it answers {status, body}, with
// status 0 when the server could not be reached.
export async function getJSON(path) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' } });
  } catch {
    return { status: 0, body: null };
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  return { status: res.status, body };
}

export const certificatePath = (poll) => `/api/polls/${encodeURIComponent(poll)}/certificate`;
export const receiptPath = (poll, seq) => `/api/polls/${encodeURIComponent(poll)}/receipt?seq=${seq}`;
export const KEY_PATH = '/.well-known/votecast-key';

// loadCertificate fetches poll's certificate and the server's published
// key and checks them: {payload, checks}, or {error} (an i18n key) and
// whether a retry may help when the certificate could not be had.
export async function loadCertificate(poll) {
  const [c, k] = await Promise.all([getJSON(certificatePath(poll)), getJSON(KEY_PATH)]);
  if (c.status !== 200) {
    const error = { 0: 'certNetwork', 400: 'notFound', 404: 'notFound', 409: 'certNotClosed' }[c.status] || 'certUnavailable';
    return { error, retry: error === 'certNetwork' || error === 'certUnavailable' };
  }
  const serverKey = k.status === 200 && typeof k.body?.public_key === 'string' ? k.body.public_key : '';
  const { payload, checks } = await checkCertificate(c.body || {}, serverKey);
  return { payload: payload && typeof payload === 'object' ? payload : null, checks };
}
