#!/usr/bin/env node
// vote.mjs: vote in a poll with the built client and print what the
// server says: each totals frame, and the vote's final answer.
//
//   node examples/vote.mjs http://127.0.0.1:8080 <poll id> <option> [count]
//
// A viewer token, when the server requires one, comes from $VOTECAST_TOKEN.
// Node 20 needs --experimental-websocket; Node 22+ has WebSocket.

import { VotecastClient } from '../dist/index.js';

const [url, poll, option, count] = process.argv.slice(2);
if (!url || !poll || option === undefined) {
  console.error('usage: node examples/vote.mjs <server url> <poll id> <option> [count]');
  process.exit(2);
}

const opts = { url, poll };
if (process.env.VOTECAST_TOKEN) opts.token = process.env.VOTECAST_TOKEN;
const client = new VotecastClient(opts);

const show = (t) => (t.hidden ? 'hidden until the poll closes' : `${JSON.stringify(t.counts)} total ${t.total}`);
let answered = false;
client.on('state', (s) => console.log(`connection: ${s.state}${s.code ? ` (${s.code} ${s.reason || ''})` : ''}`));
client.on('totals', (t) => {
  console.log(`totals (${t.state}): ${show(t)}`);
  if (answered) finish(0);
});
client.on('error', (reason) => console.log(`server: ${reason}`));

const vote = count === undefined ? {} : { count: Number(count) };
client.vote(Number(option), vote).then(
  (r) => {
    console.log(`vote ${r.key}: ${r.status}${r.reason ? ` (${r.reason})` : ''}${r.seq ? `, receipt ${r.seq}` : ''}`);
    answered = true;
    // The totals that count this vote come a moment after its answer
    // (none while results are hidden, or once the poll is closed).
    setTimeout(() => finish(0), r.recorded ? 3000 : 0);
  },
  (err) => {
    console.error(err.message);
    finish(1);
  },
);

function finish(code) {
  client.close();
  process.exit(code);
}
