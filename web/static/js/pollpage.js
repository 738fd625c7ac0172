// pollpage: the controller of a poll page (viewer page and widget frame).
// It loads the poll definition, keeps one WebSocket, feeds acks and
// connection changes to the Ballot, resends what was never acked with the
// same client keys, and asks PollView to draw. At close, final totals
// arrive over the socket: nothing is fetched.

import { Ballot } from './ballot.js';
import { Backoff } from './backoff.js';
import { PollView } from './pollview.js';
import { PollSocket, socketURL } from './socket.js';

const TOTALS_ANNOUNCE_MS = 15000; // a screen reader hears totals at most this often

export function startPollPage({ root, id, token = '', locale, store = null, onRender = () => {} }) {
  let poll = null;
  let results = null;
  let ballot = null;
  let connected = false;
  let everConnected = false;
  let retryTimer = 0;
  let tick = 0;
  let lastAnnounce = 0;
  let shown = false;

  const view = new PollView(root, locale, vote);
  const storeKey = `votecast.ballot.${id}`;
  const socket = new PollSocket(socketURL(location, id, token), {
    onOpen() {
      connected = true;
      everConnected = true;
      flush();
      render();
    },
    onFrame(f) {
      if (f.type === 'results') onResults(f);
      else if (f.type === 'ack') onAck(f);
    },
    onDown() {
      connected = false;
      ballot?.disconnected();
      save();
      render();
    },
  });
  socket.connect(); // in parallel with the definition: totals are ready when it is
  view.message('loading');
  loadPoll(new Backoff({ base: 1000, cap: 20000 }));
  locale.onChange(() => (poll ? render() : view.message(view.shown)));

  async function loadPoll(backoff) {
    let res;
    try {
      res = await fetch(`/api/polls/${encodeURIComponent(id)}`, { headers: { Accept: 'application/json' } });
    } catch {
      view.message('loadFailed');
      setTimeout(() => loadPoll(backoff), backoff.next());
      return;
    }
    if (res.status === 404 || res.status === 400) {
      socket.stop();
      view.message('notFound');
      onRender();
      return;
    }
    if (!res.ok) {
      view.message('loadFailed');
      setTimeout(() => loadPoll(backoff), backoff.next());
      return;
    }
    poll = await res.json();
    document.title = `${poll.question} · votecast`;
    let saved = null;
    try { saved = JSON.parse(store?.getItem(storeKey) || 'null'); } catch { /* a bad entry is dropped */ }
    ballot = new Ballot({ votesPerUser: poll.votes_per_user, allowChange: poll.allow_change, options: poll.options.length }, saved);
    if (poll.state === 'closed') ballot.close();
    if (results && results.poll === poll.id) applyState(results.state);
    flush();
    render();
    if (!shown) {
      shown = true;
      performance.mark('votecast:poll-shown');
    }
  }

  function onResults(f) {
    const closing = results && results.state !== 'closed' && f.state === 'closed';
    results = f;
    applyState(f.state);
    if (!poll) return;
    render();
    const now = Date.now();
    if (closing || now - lastAnnounce > TOTALS_ANNOUNCE_MS) {
      lastAnnounce = now;
      view.announce(poll, results);
    }
  }

  function applyState(state) {
    if (!poll || !state) return;
    poll.state = state;
    if (state === 'closing' || state === 'closed') ballot.close();
  }

  function onAck(a) {
    if (!ballot || !ballot.ack(a, Date.now())) return;
    if (ballot.closed && poll.state === 'open') poll.state = 'closed';
    save();
    scheduleRetry();
    render();
  }

  function vote(option, delta) {
    if (!ballot || poll.state !== 'open') return;
    if (!ballot.cast(option, delta)) return;
    save();
    flush();
    render();
  }

  // flush sends every due vote if the socket is open.
  function flush() {
    if (!ballot || !connected || !socket.open) return;
    for (const f of ballot.due(Date.now())) {
      if (!socket.send(f)) {
        ballot.disconnected();
        break;
      }
    }
    save();
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    const at = ballot.nextRetryAt();
    if (!at) return;
    retryTimer = setTimeout(() => { flush(); render(); }, Math.max(0, at - Date.now()));
  }

  function save() {
    if (!ballot || !store) return;
    try { store.setItem(storeKey, JSON.stringify(ballot)); } catch { /* full or blocked */ }
  }

  function render() {
    if (!poll) return;
    const now = Date.now();
    const feedback = ballot.feedback(now, connected);
    view.render({ poll, results, ballot, feedback, connected, everConnected });
    // A retry countdown needs a tick each second; nothing else does.
    clearTimeout(tick);
    if (feedback?.key === 'retryIn') tick = setTimeout(render, 1000 - (now % 1000) + 5);
    onRender();
  }

  return { stop: () => socket.stop() };
}
