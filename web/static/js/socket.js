// socket: the viewer WebSocket to /ws?poll=ID with reconnects. It knows
// frames (the JS client's parseFrame, so the pages read them as partners'
// apps do) and nothing of polls. Reconnects use Backoff; the delay
// resets once a connection has delivered a frame, so a server that accepts
// and drops at once is not hammered. Close code 1008 (policy: we sent too
// much) waits at least 10 s. Coming back online or to the foreground
// reconnects at once.
//
// A connection that closes before it ever opened may have been refused
// because the node is full (HTTP 503, which a browser's WebSocket cannot
// read): the onRefused handler may take the reconnect over (waitroom.js
// asks the server and waits in line); the socket then holds still until
// it is told to retry or to connect.

import { Backoff } from '../../../clients/js/src/backoff.js';
import { parseFrame } from '../../../clients/js/src/frames.js';

// An anonymous viewer's sealed id, from the server's hello frame. It is
// sent back as &viewer= because a partner's frame gets no cookies, and
// without it every reconnect there would be a new voter.
const viewerKey = 'votecast.viewer';

function storage(win) {
  try { return win.localStorage || null; } catch { return null; }
}

export function socketURL(loc, poll, token, win = globalThis) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  let u = `${scheme}//${loc.host}/ws?poll=${encodeURIComponent(poll)}`;
  if (token) return u + `&token=${encodeURIComponent(token)}`;
  const viewer = storage(win)?.getItem(viewerKey);
  if (viewer) u += `&viewer=${encodeURIComponent(viewer)}`;
  return u;
}

function withViewer(url, viewer) {
  if (/[?&]token=/.test(url)) return url;
  return url.replace(/&viewer=[^&]*/, '') + `&viewer=${encodeURIComponent(viewer)}`;
}

// withTicket puts a waiting-room ticket on url ('' takes it off).
export function withTicket(url, ticket) {
  const u = url.replace(/&ticket=[^&]*/, '');
  return ticket ? `${u}&ticket=${encodeURIComponent(ticket)}` : u;
}

export class PollSocket {
  // handlers: onOpen(), onFrame(obj), onDown(code), onRefused(code) — all
  // optional. onRefused is called after onDown when the connection never
  // opened; returning true holds the socket until retry() or connectNow().
  constructor(url, handlers, { backoff = new Backoff(), WS = globalThis.WebSocket, win = globalThis } = {}) {
    this.url = url;
    this.h = handlers;
    this.backoff = backoff;
    this.WS = WS;
    this.win = win;
    this.ws = null;
    this.timer = 0;
    this.stopped = false;
    this.open = false;
    this.held = false;
    this.wake = () => { if (!this.ws && !this.stopped && !this.held) this.connect(); };
    win.addEventListener?.('online', this.wake);
    win.document?.addEventListener?.('visibilitychange', () => {
      if (win.document.visibilityState === 'visible') this.wake();
    });
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = 0;
    if (this.stopped || this.ws) return;
    let ws;
    try {
      ws = new this.WS(this.url);
    } catch {
      this.scheduleReconnect(0);
      return;
    }
    this.ws = ws;
    let heard = false;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.open = true;
      this.h.onOpen?.();
    };
    ws.onmessage = (e) => {
      if (!heard) {
        heard = true;
        this.backoff.reset();
      }
      const f = typeof e.data === 'string' ? parseFrame(e.data) : null;
      if (!f) return;
      if (f.type === 'hello') {
        this.setViewer(f.viewer);
        return;
      }
      this.h.onFrame?.(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.open = false;
      this.h.onDown?.(e.code);
      if (!opened && !this.stopped && this.h.onRefused) {
        // Held first: the handler may call retry() or connectNow() at once.
        this.held = true;
        if (this.h.onRefused(e.code)) return;
        this.held = false;
      }
      this.scheduleReconnect(e.code);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  scheduleReconnect(code) {
    if (this.stopped) return;
    let d = this.backoff.next();
    if (code === 1008) d = Math.max(d, 10000);
    this.timer = setTimeout(() => this.connect(), d);
  }

  // retry reconnects after the usual backoff (after a hold).
  retry() {
    this.held = false;
    if (!this.ws && !this.timer) this.scheduleReconnect(0);
  }

  // connectNow connects at once (after a hold).
  connectNow() {
    this.held = false;
    this.connect();
  }

  // setTicket makes the next connections present a waiting-room ticket.
  setTicket(ticket) { this.url = withTicket(this.url, ticket); }

  // setViewer keeps an anonymous viewer's sealed id for the next
  // connections and page loads.
  setViewer(viewer) {
    try { storage(this.win)?.setItem(viewerKey, viewer); } catch { /* storage full or blocked */ }
    this.url = withViewer(this.url, viewer);
  }

  // send writes one frame; false when there is no open connection (the
  // caller keeps the frame and sends it after the next onOpen).
  send(obj) {
    if (!this.ws || !this.open) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.win.removeEventListener?.('online', this.wake);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
  }
}
