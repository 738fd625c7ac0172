// pollpage: the controller of a poll page (viewer page and widget frame).
// It loads the poll definition, keeps one WebSocket, feeds acks and
// connection changes to the Ballot, resends what was never acked with the
// same client keys, and asks PollView to draw. At close, final totals
// arrive over the socket: nothing is fetched. When the node is full the
// viewer waits in line (waitroom.js) and its votes go over HTTP meanwhile.
// A counted vote's receipt number is kept (receipts.js) and shown, with a
// link to check it in the results certificate once the poll is closed.
// In a giveaway the receipt and the totals frame tell the entrant whether
// it won (giveaway.js); a winner asks the server, as itself, for its rank
// and claim code when it presses the button.

import { Ballot, COUNTED } from './ballot.js';
import { Backoff } from '../../../clients/js/src/backoff.js';
import { PollView } from './pollview.js';
import { PollSocket, socketURL } from './socket.js';
import { loadReceipts, addReceipt, saveReceipts } from './receipts.js';
import { WaitingRoom, identityQuery } from './waitroom.js';
import { fetchOutcome } from './giveaway.js';

const TOTALS_ANNOUNCE_MS = 15000; // a screen reader hears totals at most this often
const LINE_ANNOUNCE_MS = 10000; // and its place in line at most this often
const CLAIM_RETRY_MS = [1000, 2000, 4000, 8000]; // asking again while the server has not decided

// session (sessionStorage or null) keeps a waiting-room ticket across reloads.
export function startPollPage({ root, id, token = '', locale, store = null, session = null, onRender = () => {} }) {
  let poll = null;
  let results = null;
  let ballot = null;
  let connected = false;
  let everConnected = false;
  let retryTimer = 0;
  let tick = 0;
  let lastAnnounce = 0;
  let shown = false;
  let sendingFromLine = false;
  let lineSaid = '';
  let lineSaidAt = 0;
  let wasInLine = false;
  let claim = { phase: 'idle' }; // a giveaway winner's outcome from the server
  let claimTimer = 0;

  const view = new PollView(root, locale, vote, askClaim);
  const storeKey = `votecast.ballot.${id}`;
  let receipts = loadReceipts(store, id);
  const socket = new PollSocket(socketURL(location, id, token), {
    onOpen() {
      connected = true;
      everConnected = true;
      room.opened();
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
    onRefused: () => room.refused(),
  });
  const room = new WaitingRoom({
    poll: id,
    socket,
    session,
    onChange() {
      flush();
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
      room.stop();
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
    const v = ballot?.ack(a, Date.now());
    if (!v) return;
    if (v.status === COUNTED && a.seq) {
      receipts = addReceipt(receipts, a.seq, v.option);
      saveReceipts(store, id, receipts);
    }
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

  // flush sends every due vote if the socket is open, or from the line.
  function flush() {
    if (!ballot) return;
    if (!connected || !socket.open) {
      if (room.inLine) sendFromLine();
      return;
    }
    for (const f of ballot.due(Date.now())) {
      if (!socket.send(f)) {
        ballot.disconnected();
        break;
      }
    }
    save();
  }

  // sendFromLine sends the due votes over HTTP with the ticket, one at a
  // time and in order (a socket keeps the order; parallel requests would
  // not), and feeds each answer to the ballot as a socket ack would be.
  async function sendFromLine() {
    if (sendingFromLine) return;
    sendingFromLine = true;
    try {
      for (let due = ballot.due(Date.now()); due.length; due = ballot.due(Date.now())) {
        render();
        for (const f of due) {
          if (!room.inLine) {
            ballot.unanswered(f.id, Date.now(), 0, false); // not sent: the socket sends it
            continue;
          }
          const r = await room.vote(f);
          if (r.ack) {
            onAck(r.ack);
          } else {
            ballot.unanswered(f.id, Date.now(), r.retryMs, r.lost);
            save();
            scheduleRetry();
          }
        }
        if (!room.inLine) break;
      }
    } finally {
      sendingFromLine = false;
    }
    if (connected && socket.open) flush();
    render();
  }

  // askClaim fetches the viewer's outcome (rank and claim code) as the
  // socket's identity. The frame may have told the page it won a moment
  // before the server's winners are read: a 409 is asked again shortly.
  async function askClaim(tries = 0) {
    if (claim.phase === 'loading' || claim.phase === 'done') return;
    clearTimeout(claimTimer);
    claim = { phase: 'loading' };
    render();
    const r = await fetchOutcome(id, identityQuery(socket.url));
    if (r.undecided) {
      claim = { phase: 'undecided' };
      if (tries < CLAIM_RETRY_MS.length) claimTimer = setTimeout(() => askClaim(tries + 1), CLAIM_RETRY_MS[tries]);
    } else if (r.error !== undefined) {
      claim = { phase: 'error', status: r.error };
    } else {
      claim = { phase: 'done', ...r, code: r.claim || '' };
    }
    render();
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
    const feedback = ballot.feedback(now, connected || room.inLine);
    const line = room.inLine ? { phase: room.phase, early: room.early, ...room.estimate(), start: room.start } : null;
    view.render({ poll, results, ballot, feedback, connected, everConnected, line, receipts, claim });
    announceLine(line, now);
    // A retry countdown needs a tick each second; nothing else does.
    clearTimeout(tick);
    if (feedback?.key === 'retryIn') tick = setTimeout(render, 1000 - (now % 1000) + 5);
    onRender();
  }

  // announceLine tells a screen reader its place in line when it joins,
  // then at most every LINE_ANNOUNCE_MS, and once when its turn comes.
  function announceLine(line, now) {
    if (!line) {
      if (wasInLine && connected) view.announceText(locale.t('queueIn'));
      wasInLine = false;
      lineSaid = '';
      return;
    }
    wasInLine = true;
    const text = view.lineText(line);
    if (text === lineSaid || (lineSaid && line.phase === 'waiting' && now - lineSaidAt < LINE_ANNOUNCE_MS)) return;
    lineSaid = text;
    lineSaidAt = now;
    view.announceText(text);
  }

  return {
    stop: () => {
      socket.stop();
      room.stop();
    },
  };
}
