// wait: conditions are awaited with a deadline, never slept for.

export async function waitFor(cond, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await cond();
      if (last) return last;
    } catch (e) {
      if (e && /exited/.test(e.message)) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

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
