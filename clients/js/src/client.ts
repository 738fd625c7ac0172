// client: VotecastClient, one viewer's connection to one poll. It keeps
// one WebSocket open, reconnecting with back-off; sends each vote with a
// client key it keeps until the vote's final answer, so a vote sent again
// after a reconnect or a retry answer is the same vote to the server; and
// hands the app every totals frame. docs/protocol.md is the protocol it
// speaks.
//
// Concurrency: JavaScript's one thread. Every method may be called at any
// time, from a handler too; handlers run on the socket's events, never
// inside a method call but for close()'s last 'state'.

import { Backoff } from './backoff.js';
import { Emitter } from './emitter.js';
import { type Ack, type Totals, MAX_COUNT, MAX_OPTIONS, isKey, newKey, parseFrame, voteFrame } from './frames.js';
import {
  ALREADY_COUNTED,
  ClientClosedError,
  type ClientEvents,
  type ClientOptions,
  type ConnectionState,
  type Socket,
  type SocketConstructor,
  type StateChange,
  type VoteOptions,
  type VoteResult,
} from './types.js';
import { socketURL } from './url.js';
import { type PendingVote, type Vote, Votes, pendingOf } from './votes.js';

const OPEN = 1;
const POLICY_WAIT_MS = 10000; // after close code 1008: the server said we sent too much

export class VotecastClient extends Emitter<ClientEvents> {
  private readonly opts: ClientOptions;
  private readonly WS: SocketConstructor;
  private readonly backoff: Backoff;
  private readonly votes = new Votes<VoteResult>();
  private ws: Socket | null = null;
  private connecting = false;
  private stopped = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private current: ConnectionState = 'closed';
  private sealed: string;
  private latest: Totals | null = null;
  private readonly wake = (): void => {
    if (!this.ws && !this.connecting && !this.stopped) void this.connect();
  };

  constructor(opts: ClientOptions) {
    super();
    if (!opts || typeof opts.url !== 'string' || typeof opts.poll !== 'string' || !opts.poll) {
      throw new TypeError('votecast: options url and poll are required');
    }
    socketURL(opts.url, opts.poll); // a bad url throws here, not on every reconnect
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (typeof WS !== 'function') {
      throw new TypeError('votecast: no WebSocket here: use Node 22+ (node --experimental-websocket on Node 20) or pass options.WebSocket');
    }
    this.opts = opts;
    this.WS = WS;
    this.backoff = new Backoff(opts.backoff);
    this.sealed = opts.viewer ?? '';
    globalThis.addEventListener?.('online', this.wake);
    queueMicrotask(() => void this.connect()); // handlers added right after new see 'connecting'
  }

  /** The connection's state. */
  get state(): ConnectionState {
    return this.current;
  }

  /** The anonymous viewer's sealed id ('' with a token, or before the first hello). */
  get viewer(): string {
    return this.sealed;
  }

  /** The newest totals frame, or null before the first. */
  get totals(): Totals | null {
    return this.latest;
  }

  /** The votes without a final answer yet, in the order they were cast. */
  pending(): PendingVote[] {
    return this.votes.pending();
  }

  /**
   * vote sends a vote for option (0-based) and resolves with its final
   * answer: accepted, duplicate or rejected. Until then it is sent again
   * under the same key after every reconnect, and after the time a retry
   * answer names. It rejects only on bad arguments or when close() comes first.
   */
  vote(option: number, opts: VoteOptions = {}): Promise<VoteResult> {
    const { count, key = newKey() } = opts;
    if (!Number.isInteger(option) || option < 0 || option >= MAX_OPTIONS) {
      return Promise.reject(new RangeError(`votecast: option must be an integer from 0 to ${MAX_OPTIONS - 1}, got ${option}`));
    }
    if (count !== undefined && (!Number.isInteger(count) || count < 0 || count > MAX_COUNT)) {
      return Promise.reject(new RangeError(`votecast: count must be an integer from 0 to ${MAX_COUNT}, got ${count}`));
    }
    if (typeof key !== 'string' || !isKey(key)) {
      return Promise.reject(new TypeError(`votecast: a key is 1 to 64 of A-Z a-z 0-9 - _, got ${JSON.stringify(key)}`));
    }
    if (this.stopped) return Promise.reject(new Error('votecast: the client is closed'));
    const old = this.votes.find(key);
    if (old) {
      if (old.option === option && old.count === count) return old.done;
      return Promise.reject(new Error(`votecast: key ${key} is pending for another vote`));
    }
    const v = this.votes.add(key, option, count);
    this.flush();
    return v.done;
  }

  /** close ends the connection for good; votes still unanswered reject with ClientClosedError. Safe to call twice. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.retryTimer);
    globalThis.removeEventListener?.('online', this.wake);
    const ws = this.ws;
    this.ws = null;
    try {
      ws?.close(1000);
    } catch {
      // already closing
    }
    this.votes.disconnected();
    this.setState({ state: 'closed', code: 1000, reason: 'closed by the client' });
    for (const v of this.votes.drain()) v.fail(new ClientClosedError(pendingOf(v)));
  }

  private async connect(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.stopped || this.ws || this.connecting) return;
    this.connecting = true;
    this.setState({ state: 'connecting' });
    let ws: Socket;
    try {
      const { token } = this.opts;
      const tok = typeof token === 'function' ? await token() : token;
      if (this.stopped) return;
      ws = new this.WS(socketURL(this.opts.url, this.opts.poll, tok ? { token: tok } : { viewer: this.sealed }));
    } catch (err) {
      this.down(1006, `could not connect: ${err instanceof Error ? err.message : String(err)}`);
      return;
    } finally {
      this.connecting = false;
    }
    this.watch(ws);
  }

  private watch(ws: Socket): void {
    this.ws = ws;
    let heard = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setState({ state: 'open' });
      this.flush();
    };
    ws.onmessage = (e: { data?: unknown }) => {
      if (this.ws !== ws || typeof e.data !== 'string') return;
      if (!heard) {
        heard = true;
        this.backoff.reset(); // a server that takes us and drops us at once is not hammered
      }
      const f = parseFrame(e.data);
      switch (f?.type) {
        case 'ack':
          this.onAck(f);
          break;
        case 'results':
          this.latest = f;
          this.emit('totals', f);
          break;
        case 'hello':
          if (f.viewer !== this.sealed) {
            this.sealed = f.viewer;
            this.emit('viewer', f.viewer);
          }
          break;
        case 'error':
          this.emit('error', f.reason);
          break;
      }
    };
    ws.onclose = (e: { code?: number; reason?: string }) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.down(e.code ?? 1006, e.reason ?? '');
    };
    // Browsers follow an error with a close; Node 20's socket does not
    // when the server refuses the upgrade. The first of the two counts.
    ws.onerror = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      try {
        ws.close();
      } catch {
        // not open yet
      }
      this.down(1006, 'connection failed');
    };
  }

  // down: the connection ended or never came; try again after the back-off.
  private down(code: number, reason: string): void {
    this.votes.disconnected();
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    let wait = this.backoff.next();
    if (code === 1008) wait = Math.max(wait, POLICY_WAIT_MS);
    this.setState({ state: 'closed', code, reason, retryInMs: wait });
    this.reconnectTimer = setTimeout(() => void this.connect(), wait);
  }

  private onAck(a: Ack): void {
    this.emit('ack', a);
    const v = this.votes.find(a.id);
    if (!v) return;
    v.inFlight = false;
    if (a.status === 'retry') {
      v.retryAt = Date.now() + Math.max(100, a.retry_after_ms ?? 1000);
      this.scheduleRetry();
      return;
    }
    this.votes.remove(v);
    v.settle(result(v, a));
  }

  // flush sends every due vote on the open connection.
  private flush(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.current !== 'open') return;
    for (const v of this.votes.due(Date.now())) {
      try {
        ws.send(voteFrame(v.key, v.option, v.count));
      } catch {
        v.inFlight = false; // the socket is going; onclose resends
        break;
      }
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const at = this.votes.nextRetryAt();
    if (at) this.retryTimer = setTimeout(() => this.flush(), Math.max(0, at - Date.now()));
  }

  private setState(s: StateChange): void {
    this.current = s.state;
    this.emit('state', s);
  }
}

// result is a vote's final answer. A status this client does not know is
// final and not recorded, as on the viewer page.
function result(v: Vote<VoteResult>, a: Ack): VoteResult {
  const known = a.status === 'accepted' || a.status === 'duplicate' || a.status === 'rejected';
  const status = known ? (a.status as VoteResult['status']) : 'rejected';
  const r: VoteResult = {
    key: v.key,
    option: v.option,
    status,
    reason: known ? a.reason : a.reason || `unknown status ${JSON.stringify(a.status)}`,
    recorded: status === 'accepted' || (status === 'duplicate' && a.reason === ALREADY_COUNTED),
    sends: v.sends,
  };
  if (v.count !== undefined) r.count = v.count;
  if (a.seq !== undefined) r.seq = a.seq;
  return r;
}
