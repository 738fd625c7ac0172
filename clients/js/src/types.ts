// types: what the client's API takes and gives, apart from the frames
// (frames.ts).

import type { BackoffOptions } from './backoff.js';
import type { Ack, Totals } from './frames.js';
import type { PendingVote } from './votes.js';

/** The reason of a duplicate answer that means this very vote is in the poll's log already. */
export const ALREADY_COUNTED = 'already counted';

/** What a WebSocket must offer the client: the browser's, Node's global one, or a compatible class. */
export interface Socket {
  readonly readyState: number;
  // Handlers take never: any runtime's event types fit.
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketConstructor = new (url: string) => Socket;

export interface ClientOptions {
  /** The server's address: http(s)://host[:port][/prefix] (ws and wss work too). */
  url: string;
  /** The poll's id. */
  poll: string;
  /** A partner-signed viewer token, or a function that gives a fresh one for each connection. */
  token?: string | (() => string | Promise<string>);
  /** An anonymous viewer's sealed id from an earlier session (the 'viewer' event), to stay the same viewer. */
  viewer?: string;
  /** The WebSocket class; zero value: the global one (browsers, Node 22+). */
  WebSocket?: SocketConstructor;
  /** Reconnect delays; zero values: 500 ms doubling up to 15 s, half of each random. */
  backoff?: BackoffOptions;
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** On 'closed': the close code (1006 when the connection dropped or was refused before it opened). */
  code?: number;
  reason?: string;
  /** On 'closed', unless close() was called: ms until the next attempt. */
  retryInMs?: number;
}

export interface VoteOptions {
  /** How many of the viewer's votes to put on the option (budget polls; 0 takes them back where changes are allowed). */
  count?: number;
  /** The client key: give the key of a vote an earlier session left pending to send it again as the same vote. */
  key?: string;
}

/** A vote's final answer. */
export interface VoteResult {
  key: string;
  option: number;
  count?: number;
  status: 'accepted' | 'duplicate' | 'rejected';
  reason: string;
  /** The receipt: the vote's place in the poll's log, on accepted and on duplicate "already counted". */
  seq?: number;
  /**
   * True when this very vote is in the poll's log, before its close: accepted, or a
   * duplicate "already counted" (an earlier send of it is). The poll's rules then
   * decide what it adds: a vote past the viewer's budget is recorded and adds nothing.
   */
  recorded: boolean;
  /** How many times it was sent. */
  sends: number;
}

/** The rejection of a vote still unanswered when close() was called; it may have counted. */
export class ClientClosedError extends Error {
  override name = 'ClientClosedError';
  constructor(readonly vote: PendingVote) {
    super(`votecast: client closed before vote ${vote.key} had its answer`);
  }
}

export type ClientEvents = {
  totals: [Totals];
  ack: [Ack];
  state: [StateChange];
  viewer: [string];
  error: [string];
};
