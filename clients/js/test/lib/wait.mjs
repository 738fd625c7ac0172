// wait: conditions are awaited with a deadline, never slept for
// (waitFor is the browser tests' own, e2e/lib/wait.js).

import { waitFor } from '../../../../e2e/lib/wait.js';

export { waitFor };

// events collects a client's events of one name, and waits for one that
// passes a test, with a deadline.
export function record(client, event) {
  const seen = [];
  client.on(event, (x) => seen.push(x));
  seen.until = (pred, opts = {}) => waitFor(() => seen.find(pred), { what: `a '${event}' event`, ...opts });
  return seen;
}

// within settles as promise does, or fails after timeout ms.
export function within(promise, timeout, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
