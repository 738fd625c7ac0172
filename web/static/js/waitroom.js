// waitroom: the viewer's side of the waiting room. When the socket is
// refused before it ever opened, the page asks the server what to do
// (POST /api/polls/{id}/queue): connect as usual, connect with a ticket,
// or wait in line. In line it follows the serving position
// (GET /api/queue, one cacheable answer for everyone) at an interval that
// grows with the wait, connects with its ticket once let in, and carries
// the ballot's votes over HTTP meanwhile. What a vote's answer means stays
// in ballot.js; this module only carries frames and acks.
//
// Phases: 'off' (not in line: connected, or connecting as usual), 'waiting'
// (in line, the socket held), 'turn' (let in, connecting with the ticket).

import { Backoff } from '../../../clients/js/src/backoff.js';
import { parseFrame } from '../../../clients/js/src/frames.js';

const TICKET_KEY = 'votecast.ticket.';
const REFUSALS_BEFORE_ASKING = 3; // refused connects with a ticket let in before joining again
const MIN_POLL_MS = 1000;
const MAX_POLL_MS = 10000;
const JITTER = 0.3;

// lineEstimate is where a place stands: its number in line (1 is next)
// and the expected wait in ms, -1 when the line does not move.
export function lineEstimate(place, serving, rate) {
  const number = Math.max(0, (Number(place) || 0) - (Number(serving) || 0));
  const etaMs = rate > 0 ? Math.ceil((number / rate) * 1000) : -1;
  return { number, etaMs };
}

// pollDelay is how long to wait before reading the line again: a quarter
// of the expected wait, between 1 s and 10 s (10 s when the line does not
// move), with ±30% jitter so that a crowd does not ask in step.
export function pollDelay(etaMs, random = Math.random) {
  const base = etaMs < 0 || !Number.isFinite(etaMs) ? MAX_POLL_MS : Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, etaMs / 4));
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

// identityQuery is the socket URL's identity (token, or an anonymous
// viewer's sealed id) as a query string for the waiting room's endpoints.
export function identityQuery(socketURL) {
  let q;
  try { q = new URL(socketURL).searchParams; } catch { return ''; }
  if (q.get('token')) return `?token=${encodeURIComponent(q.get('token'))}`;
  if (q.get('viewer')) return `?viewer=${encodeURIComponent(q.get('viewer'))}`;
  return '';
}

export class WaitingRoom {
  // socket: a PollSocket (url, retry, connectNow, setTicket, setViewer).
  // session: sessionStorage or null; it keeps the ticket across reloads.
  // onChange(): the line moved, or the phase changed.
  constructor({ poll, socket, session = null, onChange = () => {}, fetch = globalThis.fetch?.bind(globalThis), win = globalThis, random = Math.random, now = Date.now, backoff = new Backoff({ base: 1000, cap: 15000, random }) }) {
    this.poll = poll;
    this.socket = socket;
    this.session = session;
    this.onChange = onChange;
    this.fetch = fetch;
    this.random = random;
    this.now = now;
    this.backoff = backoff;
    this.phase = 'off';
    this.ticket = '';
    this.place = 0;
    this.serving = 0;
    this.rate = 0;
    this.start = 0; // the number in line when this page first saw it
    this.known = false; // the ticket's place is known to be let in
    this.refusals = 0;
    this.joining = false;
    this.early = false; // in line before the poll opened: no place yet
    this.timer = 0;
    this.stopped = false;
    this.restore();
    const wake = () => { if (this.phase === 'waiting') this.check(); };
    win.addEventListener?.('online', wake);
    win.document?.addEventListener?.('visibilitychange', () => {
      if (win.document.visibilityState === 'visible') wake();
    });
  }

  get inLine() { return this.phase === 'waiting' || this.phase === 'turn'; }

  // estimate is the viewer's number in line and the expected wait.
  estimate() { return lineEstimate(this.place, this.serving, this.rate); }

  // refused is the socket's onRefused: a connection closed before it
  // opened. The room takes the reconnect over (the answer is always true).
  refused() {
    if (this.stopped) return true;
    if (this.ticket && this.known && ++this.refusals < REFUSALS_BEFORE_ASKING) {
      this.socket.retry(); // 429, 403 or 503: the backoff, then the same ticket
      return true;
    }
    this.refusals = 0;
    this.join();
    return true;
  }

  // opened is called when the socket opens: whoever was in line is in.
  opened() {
    this.refusals = 0;
    this.known = !!this.ticket;
    clearTimeout(this.timer);
    if (this.phase === 'off') return;
    this.phase = 'off';
    this.onChange();
  }

  // join asks the server for a place (or the one this viewer has).
  async join() {
    if (this.joining || this.stopped) return;
    this.joining = true;
    let body = null;
    try {
      const res = await this.fetch(`/api/polls/${encodeURIComponent(this.poll)}/queue${identityQuery(this.socket.url)}`, {
        method: 'POST', headers: { Accept: 'application/json' }, cache: 'no-store',
      });
      if (res.ok) body = await res.json();
    } catch { /* the network, or not JSON: as an error */ }
    this.joining = false;
    if (this.stopped) return;
    if (!body || typeof body.admit !== 'boolean') {
      // 503 (the room is unavailable), 404, 401, or no network.
      if (this.phase === 'waiting') this.watch(pollDelay(this.estimate().etaMs, this.random));
      else this.socket.retry();
      return;
    }
    if (typeof body.viewer === 'string' && body.viewer) this.socket.setViewer(body.viewer);
    if (body.early) {
      // The poll has not opened: nobody has a place yet. Places are
      // drawn at random at the opening; asking again then gives ours.
      this.early = true;
      this.setPhase('waiting');
      this.onChange();
      clearTimeout(this.timer);
      if (!this.stopped) this.timer = setTimeout(() => this.join(), Number(body.retry_after_ms) || 5000);
      return;
    }
    this.early = false;
    if (!body.ticket) {
      // The node has room and nobody waits: connect as usual.
      this.forget();
      this.setPhase('off');
      this.socket.retry();
      return;
    }
    this.ticket = body.ticket;
    this.place = Number(body.place) || 0;
    this.serving = Number(body.serving) || 0;
    this.rate = Number(body.rate) || 0;
    this.known = false;
    this.save(body.expires_at);
    this.socket.setTicket(this.ticket);
    if (body.admit || this.serving >= this.place) {
      this.letIn();
      return;
    }
    if (!this.start) this.start = this.estimate().number;
    this.setPhase('waiting');
    this.watch(pollDelay(Number(body.eta_ms ?? -1), this.random));
  }

  letIn() {
    clearTimeout(this.timer);
    this.known = true;
    this.refusals = 0;
    this.setPhase('turn');
    this.socket.connectNow();
  }

  watch(ms) {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => this.check(), ms);
  }

  // check reads the line once and connects when the place is let in.
  async check() {
    if (this.early) return; // no place to compare yet: join asks again
    clearTimeout(this.timer);
    if (this.phase !== 'waiting' || this.stopped) return;
    let line = null;
    try {
      const res = await this.fetch('/api/queue', { headers: { Accept: 'application/json' } });
      if (res.ok) line = await res.json();
    } catch { /* tried again at the next interval */ }
    if (this.phase !== 'waiting' || this.stopped) return;
    if (line && Number.isFinite(Number(line.serving))) {
      this.serving = Math.max(this.serving, Number(line.serving));
      this.rate = Number(line.rate) || 0;
      if (this.serving >= this.place) {
        this.letIn();
        return;
      }
      this.onChange();
    }
    this.watch(pollDelay(this.estimate().etaMs, this.random));
  }

  // vote sends one vote frame from the line. It answers {ack} (the
  // socket's ack frame, for ballot.ack) or {retryMs, lost} when no ack
  // came: lost says the vote may have arrived all the same.
  async vote(frame) {
    let res;
    try {
      res = await this.fetch(`/api/polls/${encodeURIComponent(this.poll)}/queue/vote${identityQuery(this.socket.url)}`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify({ ticket: this.ticket, vote: frame }),
        cache: 'no-store',
      });
    } catch {
      return { retryMs: this.backoff.next(), lost: true };
    }
    let text = '';
    try { text = await res.text(); } catch { /* cut off */ }
    const ack = parseFrame(text);
    if (ack?.type === 'ack' && ack.id === frame.id) {
      this.backoff.reset();
      return { ack }; // 200, or 429 with a retry ack
    }
    let body = null;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    if (res.status === 400 || res.status === 404) {
      return { ack: { type: 'ack', id: frame.id, status: 'rejected', reason: body?.error || '' } };
    }
    if (res.status === 403) this.join(); // ticket refused (expired?): a fresh one
    return { retryMs: this.backoff.next(), lost: false };
  }

  setPhase(p) {
    if (this.phase === p) return;
    this.phase = p;
    this.onChange();
  }

  restore() {
    let saved = null;
    try { saved = JSON.parse(this.session?.getItem(TICKET_KEY + this.poll) || 'null'); } catch { /* dropped */ }
    if (!saved || typeof saved.ticket !== 'string' || !(Date.parse(saved.expires_at) > this.now())) return;
    this.ticket = saved.ticket;
    this.place = Number(saved.place) || 0;
    this.socket.setTicket(this.ticket);
  }

  save(expiresAt) {
    const v = JSON.stringify({ ticket: this.ticket, place: this.place, expires_at: expiresAt || '' });
    try { this.session?.setItem(TICKET_KEY + this.poll, v); } catch { /* full or blocked */ }
  }

  forget() {
    this.ticket = '';
    this.place = 0;
    this.start = 0;
    this.known = false;
    this.socket.setTicket('');
    try { this.session?.removeItem(TICKET_KEY + this.poll); } catch { /* blocked */ }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
