// setup: what every test file does around its tests: one real server,
// started before them and removed after, and the clients they open,
// closed after them.

import { before, after } from 'node:test';
import { VotecastClient } from '../../dist/index.js';
import { Server } from './server.mjs';

// useServer registers the file's before and after; env.server is the
// running server once the tests run, env.client(poll, opts) a client of
// one of its polls, closed after the tests.
export function useServer(serverOpts = {}) {
  const clients = [];
  const env = {
    server: null,
    client(poll, opts = {}) {
      const c = new VotecastClient({ url: env.server.url, poll, ...opts });
      clients.push(c);
      return c;
    },
  };
  before(async () => {
    env.server = await new Server(serverOpts).start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await env.server?.close();
  });
  return env;
}

// same compares two JSON values.
export const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
