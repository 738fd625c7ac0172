// backoff: reconnect delays. Exponential growth with equal jitter: half of
// each delay is fixed, half random, so 100,000 phones dropped by one server
// restart do not all come back in the same millisecond, yet nobody waits
// long for the first retry. Pure: the random source is injected.

export class Backoff {
  constructor({ base = 500, cap = 15000, factor = 2, random = Math.random } = {}) {
    this.base = base;
    this.cap = cap;
    this.factor = factor;
    this.random = random;
    this.attempt = 0;
  }

  // next returns the delay in ms before the next attempt and counts it.
  next() {
    const ceiling = Math.min(this.cap, this.base * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  reset() { this.attempt = 0; }
}
