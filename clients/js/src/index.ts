// @votecast/client: votecast's viewer WebSocket for partner apps, in
// browsers and in Node. docs/protocol.md in the votecast repository is the
// protocol; this package is one client of it.

export { VotecastClient } from './client.js';
export {
  ClientClosedError,
  ALREADY_COUNTED,
  type ClientOptions,
  type ClientEvents,
  type ConnectionState,
  type StateChange,
  type VoteOptions,
  type VoteResult,
  type Socket,
  type SocketConstructor,
} from './types.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export {
  MAX_COUNT,
  MAX_KEY_BYTES,
  MAX_OPTIONS,
  isKey,
  newKey,
  parseFrame,
  voteFrame,
  type Ack,
  type ErrorFrame,
  type GiveawayTotals,
  type Hello,
  type PollState,
  type ServerFrame,
  type Status,
  type Totals,
  type VoteFrame,
} from './frames.js';
export { socketURL } from './url.js';
export { type PendingVote } from './votes.js';
