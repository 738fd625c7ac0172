// votes: the client's votes that have no final answer yet, with no I/O.
// A vote keeps its client key until it is answered accepted, duplicate or
// rejected, so every send of it, on any connection, is the same vote to
// the server. A vote is in flight (sent on the open connection, answer
// owed) or waiting (for a connection, or for the time a retry answer
// named). One sent on a connection that went down may or may not have
// reached the server: it is marked lost and sent again on the next one.

/** A vote without a final answer, as an app may store it to send again later. */
export interface PendingVote {
  key: string;
  option: number;
  count?: number;
  /** Sent at least once without an answer: the server may hold it already. */
  lost: boolean;
}

export interface Vote<R> extends PendingVote {
  inFlight: boolean;
  /** Not before this time (ms since the epoch), after a retry answer; 0: at once. */
  retryAt: number;
  sends: number;
  done: Promise<R>;
  settle: (result: R) => void;
  fail: (err: Error) => void;
}

export class Votes<R> {
  private list: Vote<R>[] = [];

  add(key: string, option: number, count: number | undefined): Vote<R> {
    let settle!: (r: R) => void;
    let fail!: (e: Error) => void;
    const done = new Promise<R>((res, rej) => {
      settle = res;
      fail = rej;
    });
    const v: Vote<R> = { key, option, lost: false, inFlight: false, retryAt: 0, sends: 0, done, settle, fail };
    if (count !== undefined) v.count = count;
    this.list.push(v);
    return v;
  }

  find(key: string): Vote<R> | undefined {
    return this.list.find((v) => v.key === key);
  }

  /** remove forgets a vote once it has its final answer. */
  remove(v: Vote<R>): void {
    this.list = this.list.filter((x) => x !== v);
  }

  /** due returns the votes to send now, in the order they were cast, and marks them in flight. */
  due(now: number): Vote<R>[] {
    const out = this.list.filter((v) => !v.inFlight && v.retryAt <= now);
    for (const v of out) {
      v.inFlight = true;
      v.sends++;
    }
    return out;
  }

  /** nextRetryAt is the earliest time a waiting vote may be sent, or 0. */
  nextRetryAt(): number {
    let t = 0;
    for (const v of this.list) {
      if (!v.inFlight && v.retryAt > 0 && (t === 0 || v.retryAt < t)) t = v.retryAt;
    }
    return t;
  }

  /** disconnected: what was in flight may or may not have arrived. */
  disconnected(): void {
    for (const v of this.list) {
      if (v.inFlight) {
        v.inFlight = false;
        v.lost = true;
      }
    }
  }

  /** pending lists the votes without a final answer. */
  pending(): PendingVote[] {
    return this.list.map(pendingOf);
  }

  /** drain removes every vote and returns them (the client is closing). */
  drain(): Vote<R>[] {
    const all = this.list;
    this.list = [];
    return all;
  }
}

export function pendingOf({ key, option, count, lost }: PendingVote): PendingVote {
  return count === undefined ? { key, option, lost } : { key, option, count, lost };
}
