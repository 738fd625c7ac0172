// backoff: the delays between reconnects, the client's and the viewer
// pages' (web/static/js imports this file; the server bundles it into
// the pages from the copy it embeds, clients/js/source.go). Plain
// JavaScript with JSDoc types, so the pages' node tests run it as it is
// and tsc checks it and writes its .d.ts. Exponential with equal jitter:
// half of each delay is fixed and half random, so the viewers one server
// restart drops do not all come back in the same millisecond, yet nobody
// waits long for the first try.

/**
 * @typedef {object} BackoffOptions
 * @property {number} [base] The first delay's ceiling in ms; zero value: 500.
 * @property {number} [cap] The longest delay in ms; zero value: 15000.
 * @property {() => number} [random] Random numbers in [0, 1); zero value: Math.random.
 */

export class Backoff {
  /** @param {BackoffOptions} [options] */
  constructor({ base = 500, cap = 15000, random = Math.random } = {}) {
    if (!(base > 0) || !(cap >= base)) throw new RangeError(`backoff: want 0 < base <= cap, got base ${base}, cap ${cap}`);
    /** @private @readonly */
    this.base = base;
    /** @private @readonly */
    this.cap = cap;
    /** @private @readonly */
    this.random = random;
    /** @private */
    this.attempt = 0;
  }

  /**
   * next returns the delay in ms before the next attempt, and counts it.
   * @returns {number}
   */
  next() {
    const ceiling = Math.min(this.cap, this.base * 2 ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  /** reset starts again from the first delay (a connection delivered a frame). */
  reset() {
    this.attempt = 0;
  }
}
