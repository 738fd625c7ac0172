// backoff: the delays between reconnects, as the viewer page takes them
// (web/static/js/backoff.js). Exponential with equal jitter: half of each
// delay is fixed and half random, so the viewers one server restart drops
// do not all come back in the same millisecond, yet nobody waits long for
// the first try.

export interface BackoffOptions {
  /** The first delay's ceiling in ms; zero value: 500. */
  base?: number;
  /** The longest delay in ms; zero value: 15000. */
  cap?: number;
  /** Random numbers in [0, 1); zero value: Math.random. */
  random?: () => number;
}

export class Backoff {
  private readonly base: number;
  private readonly cap: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor({ base = 500, cap = 15000, random = Math.random }: BackoffOptions = {}) {
    if (!(base > 0) || !(cap >= base)) throw new RangeError(`backoff: want 0 < base <= cap, got base ${base}, cap ${cap}`);
    this.base = base;
    this.cap = cap;
    this.random = random;
  }

  /** next returns the delay in ms before the next attempt, and counts it. */
  next(): number {
    const ceiling = Math.min(this.cap, this.base * 2 ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  /** reset starts again from the first delay (a connection delivered a frame). */
  reset(): void {
    this.attempt = 0;
  }
}
