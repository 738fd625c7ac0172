// pollview: draws one poll (question, option buttons, result bars, the
// viewer's feedback) and keeps it up to date in place, so bars animate and
// keyboard focus stays where it was. It reads state and calls onVote (and
// onClaim, a giveaway winner asking for its claim code); the decisions
// live in pollpage.js, ballot.js and giveaway.js.

import { el, setText } from './dom.js';
import { percents, formatNumber, waitParts } from './format.js';
import { verifyURL } from './receipts.js';
import { giveawayOf, entryOf, outcome, WON, LOST } from './giveaway.js';

// shapeKey changes when the poll's text does, which rebuilds the DOM.
function shapeKey(poll) {
  return [poll.id, poll.question, ...poll.options].join('\u0000');
}

export class PollView {
  constructor(root, locale, onVote, onClaim = () => {}) {
    this.root = root;
    this.locale = locale;
    this.onVote = onVote;
    this.onClaim = onClaim;
    this.built = null; // the poll id and option count the DOM was built for
  }

  message(key) {
    this.shown = key;
    this.built = null;
    this.root.replaceChildren(el('p', { class: 'notice' }, this.locale.t(key)));
    this.root.removeAttribute('aria-busy');
  }

  build(poll) {
    this.badge = el('span', { class: 'badge' });
    this.kind = el('span', { class: 'badge kind', hidden: true });
    this.conn = el('span', { class: 'conn', role: 'status', hidden: true });
    this.question = el('h1', { class: 'q', id: 'poll-q' }, poll.question);
    // The waiting room: where the viewer stands in line. Its text is not
    // live (it changes every few seconds); lineLive says it at most every
    // ten seconds (pollpage.js). Nothing here takes focus.
    this.lineHead = el('h2', { class: 'line-h', id: 'line-h' });
    this.lineNum = el('span', { class: 'line-num' });
    this.lineEta = el('span', { class: 'line-eta' });
    this.linePlace = el('p', { class: 'line-place' }, this.lineNum, ' · ', this.lineEta);
    this.lineBar = el('progress', { class: 'line-bar', max: '1', value: '0' });
    this.lineNote = el('p', { class: 'line-note' });
    this.line = el('section', { class: 'line', 'aria-labelledby': 'line-h', hidden: true }, this.lineHead, this.linePlace, this.lineBar, this.lineNote);
    this.left = el('p', { class: 'left', hidden: true });
    this.note = el('p', { class: 'note', hidden: true });
    this.rows = poll.options.map((text, i) => {
      const fill = el('span', { class: 'fill', 'aria-hidden': 'true' });
      const label = el('span', { class: 'txt' }, text);
      const num = el('span', { class: 'num' });
      const mine = el('span', { class: 'mine', hidden: true });
      const right = el('span', { class: 'right-mark', hidden: true });
      const vote = el('button', { type: 'button', class: 'vote', onclick: () => this.onVote(i, 1) }, fill, label, right, mine, num);
      const minus = el('button', { type: 'button', class: 'minus', hidden: true, onclick: () => this.onVote(i, -1) }, '−');
      return { li: el('li', { class: 'opt' }, vote, minus), vote, minus, fill, label, num, mine, right, text };
    });
    this.list = el('ol', { class: 'opts', 'aria-labelledby': 'poll-q' }, ...this.rows.map((r) => r.li));
    this.status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.receipt = el('p', { class: 'receipt', hidden: true });
    this.receiptKey = '';
    this.total = el('p', { class: 'total' });
    this.announcer = el('p', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' });
    this.lineLive = el('p', { class: 'sr-only line-live', 'aria-live': 'polite' });
    this.buildGiveaway();
    this.root.replaceChildren(el('article', { class: 'poll' },
      el('div', { class: 'head' }, this.badge, this.kind, this.conn),
      this.question, this.line, this.left, this.gw, this.list, this.status, this.receipt, this.gwResult, this.note, this.total, this.announcer, this.lineLive));
    this.root.removeAttribute('aria-busy');
    this.shown = '';
    this.built = shapeKey(poll);
  }

  // render brings the DOM up to date with s: {poll, results, ballot,
  // feedback, connected, everConnected, line}; line is null or, while in
  // the waiting room, {phase: 'waiting'|'turn', number, etaMs, start}.
  render(s) {
    const { poll, results, ballot } = s;
    if (this.built !== shapeKey(poll)) this.build(poll);
    const t = (k, p) => this.locale.t(k, p);
    const lang = this.locale.lang;
    const state = results?.state || poll.state;
    const open = state === 'open';

    setText(this.badge, t({ draft: 'stateDraft', open: 'stateOpen', closing: 'stateClosing', closed: 'stateClosed' }[state] || 'stateOpen'));
    this.badge.dataset.state = state;
    const giveaway = poll.kind === 'giveaway' || !!results?.giveaway;
    this.kind.hidden = !giveaway;
    setText(this.kind, t('gwBadge'));
    this.conn.hidden = s.connected || !s.everConnected || state === 'closed' || !!s.line;
    setText(this.conn, t('offline'));
    this.renderLine(s.line);

    const shares = ballot.shares();
    const budget = ballot.isBudget();
    this.left.hidden = !budget || state === 'closed';
    setText(this.left, t('votesLeft', { n: ballot.votesLeft(), total: ballot.budget }));

    const hidden = !results || results.hidden || !Array.isArray(results.counts);
    const counts = hidden ? [] : poll.options.map((_, i) => Number(results.counts[i]) || 0);
    const pcts = hidden ? [] : percents(counts);
    const changeBudget = budget && ballot.allowChange;
    this.rows.forEach((r, i) => {
      const can = open && ballot.canCast(i, 1);
      // aria-disabled, not disabled: the button keeps keyboard focus.
      r.vote.setAttribute('aria-disabled', String(!can));
      r.vote.setAttribute('aria-pressed', String(shares[i] > 0));
      r.li.classList.toggle('chosen', shares[i] > 0);
      r.mine.hidden = shares[i] === 0;
      setText(r.mine, budget ? t('yourVotes', { n: shares[i] }) : t('yourVote'));
      r.minus.hidden = !changeBudget || state === 'closed';
      r.minus.disabled = !(open && ballot.canCast(i, -1));
      r.minus.setAttribute('aria-label', t('takeBack', { option: r.text }));
      if (hidden) {
        r.num.hidden = true;
        r.fill.style.transform = 'scaleX(0)';
      } else {
        r.num.hidden = false;
        setText(r.num, `${pcts[i]}% · ${formatNumber(counts[i], lang)}`);
        r.fill.style.transform = `scaleX(${pcts[i] / 100})`;
      }
    });
    this.list.classList.toggle('hidden-results', hidden);

    const fb = s.feedback;
    let line = fb ? t(fb.key, { n: fb.n }) : '';
    if (!fb && state === 'closed') line = t('votingClosed');
    if (!fb && state === 'draft') line = t('draftNote');
    setText(this.status, line);
    this.status.dataset.kind = fb ? fb.key : state;

    this.renderReceipts(poll.id, s.receipts || [], state === 'closed');
    this.renderGiveaway(giveaway, poll, results, s.receipts || [], s.claim);
    this.note.hidden = !hidden || state === 'closed' || poll.results !== 'hidden';
    setText(this.note, t('hiddenNote'));
    const total = hidden ? 0 : Number(results.total ?? counts.reduce((a, b) => a + b, 0));
    this.total.hidden = hidden;
    setText(this.total, (state === 'closed' ? t('finalResults') + ' · ' : '') + (total === 1 ? t('totalVote1') : t('totalVotes', { n: formatNumber(total, lang) })));
  }

  // buildGiveaway makes a giveaway's parts: the prizes left (a line and
  // a bar, not live: they change every tick), "Sold out" and the
  // entrant's outcome (each a polite live region, said once when it
  // changes), a quiz's answer once shown, and a winner's claim code.
  buildGiveaway() {
    this.gwLeft = el('p', { class: 'gw-left' });
    this.gwBar = el('progress', { class: 'gw-bar', max: '1', value: '0' });
    this.gwSold = el('p', { class: 'gw-sold', role: 'status', 'aria-live': 'polite' });
    this.gwAnswer = el('p', { class: 'gw-answer', hidden: true });
    this.gw = el('section', { class: 'gw', hidden: true }, this.gwLeft, this.gwBar, this.gwSold, this.gwAnswer);
    this.gwText = el('p', { class: 'gw-text', role: 'status', 'aria-live': 'polite' });
    this.claimBtn = el('button', { type: 'button', class: 'claim-btn', hidden: true, onclick: () => this.onClaim() });
    this.claimMsg = el('p', { class: 'claim-msg', hidden: true });
    this.claimCode = el('input', { class: 'claim-code', id: 'claim-code', readonly: true, spellcheck: 'false', autocomplete: 'off' });
    this.claimLabel = el('label', { class: 'claim-label', for: 'claim-code' });
    this.claimCopy = el('button', { type: 'button', class: 'claim-copy', onclick: () => this.copyClaim() });
    this.claimHelp = el('p', { class: 'claim-help' });
    this.claimBox = el('div', { class: 'claim', hidden: true }, this.claimLabel, el('div', { class: 'claim-row' }, this.claimCode, this.claimCopy), this.claimHelp);
    this.gwResult = el('section', { class: 'gw-result', hidden: true }, this.gwText, this.claimBtn, this.claimMsg, this.claimBox);
    this.copied = false;
  }

  // renderGiveaway draws where a giveaway stands and, for an entrant (its
  // receipt), its outcome. claim is pollpage's {phase: 'idle'|'loading'|
  // 'undecided'|'error'|'done', won, rank, code, status}.
  renderGiveaway(giveaway, poll, results, receipts, claim = { phase: 'idle' }) {
    this.gw.hidden = !giveaway;
    if (!giveaway) {
      this.gwResult.hidden = true;
      return;
    }
    const t = (k, p) => this.locale.t(k, p);
    const lang = this.locale.lang;
    const g = giveawayOf(results);
    const prizes = g?.prizes || Number(poll.prizes) || 0;
    const n = (x) => formatNumber(x, lang);
    setText(this.gwLeft, g ? t(prizes === 1 ? 'gwLeftOf1' : 'gwLeft', { n: n(g.left), total: n(prizes) }) : t(prizes === 1 ? 'gwPrize1' : 'gwPrizes', { n: n(prizes) }));
    this.gw.dataset.soldOut = String(!!g?.soldOut);
    this.gwBar.max = Math.max(1, prizes);
    this.gwBar.value = g ? Math.min(prizes, g.winners) : 0;
    this.gwBar.setAttribute('aria-label', t('gwBar'));
    setText(this.gwSold, g?.soldOut ? t('gwSoldOut') : '');
    const answer = g?.answer ?? null;
    const known = answer !== null && answer < poll.options.length;
    this.gwAnswer.hidden = !known;
    setText(this.gwAnswer, known ? t('gwAnswer', { option: poll.options[answer] }) : '');
    this.rows.forEach((r, i) => {
      r.li.classList.toggle('answer', known && i === answer);
      r.right.hidden = !(known && i === answer);
      setText(r.right, t('gwRight'));
    });

    const entry = entryOf(receipts);
    this.gwResult.hidden = !entry;
    if (!entry) return;
    let out = outcome(results, entry);
    // The server has the last word: a claim answered "not won" is a loss.
    if (out === WON && claim.phase === 'done' && !claim.won) out = LOST;
    this.gwResult.dataset.outcome = out;
    const rank = out === WON && claim.phase === 'done' ? claim.rank : 0;
    setText(this.gwText, t({ [WON]: rank ? 'gwWonRank' : 'gwWon', [LOST]: 'gwLost' }[out] || 'gwEntered', { n: n(rank) }));
    const won = out === WON;
    const done = won && claim.phase === 'done';
    const focused = document.activeElement === this.claimBtn;
    this.claimBtn.hidden = !won || done;
    // aria-disabled, not disabled: the button keeps keyboard focus.
    this.claimBtn.setAttribute('aria-disabled', String(claim.phase === 'loading'));
    setText(this.claimBtn, t(claim.phase === 'loading' ? 'gwClaimLoading' : 'gwClaimShow'));
    const msg = won && { undecided: 'gwClaimUndecided', error: 'gwClaimFailed' }[claim.phase];
    this.claimMsg.hidden = !msg;
    setText(this.claimMsg, msg ? t(msg, { status: claim.status || t('gwNetwork') }) : '');
    this.claimBox.hidden = !done;
    if (done && this.claimCode.value !== claim.code) this.claimCode.value = claim.code;
    if (done && focused) this.claimCode.focus(); // the button it had is gone
    setText(this.claimLabel, t('gwClaimLabel'));
    setText(this.claimCopy, t(this.copied ? 'gwCopied' : 'gwCopy'));
    setText(this.claimHelp, t('gwClaimHelp'));
  }

  async copyClaim() {
    const code = this.claimCode.value;
    try {
      await navigator.clipboard.writeText(code);
    } catch {
      // No clipboard API here (a partner's frame without clipboard-write):
      // select the code so the viewer can copy it themself.
      this.claimCode.select();
      try { document.execCommand('copy'); } catch { /* selected is enough */ }
    }
    this.copied = true;
    setText(this.claimCopy, this.locale.t('gwCopied'));
    setTimeout(() => {
      this.copied = false;
      setText(this.claimCopy, this.locale.t('gwCopy'));
    }, 2000);
  }

  // renderReceipts shows the numbers of the viewer's counted votes and,
  // once the poll is closed, a link to check each in the certificate. In
  // the widget's frame the link opens a tab: the verify page refuses to be
  // framed.
  renderReceipts(poll, receipts, closed) {
    const key = [this.locale.lang, closed, ...receipts.map((r) => r.seq)].join(' ');
    if (key === this.receiptKey) return;
    this.receiptKey = key;
    this.receipt.hidden = receipts.length === 0;
    if (!receipts.length) return;
    const t = (k, p) => this.locale.t(k, p);
    const nums = receipts.map((r) => `#${r.seq}`).join(', ');
    const parts = [receipts.length === 1 ? t('receipt', { n: receipts[0].seq }) : t('receipts', { list: nums })];
    const framed = globalThis.parent !== globalThis;
    if (closed) {
      for (const r of receipts) {
        const text = receipts.length === 1 ? t('checkVote') : t('checkVoteN', { n: r.seq });
        parts.push(' ', el('a', { class: 'check', href: verifyURL(poll, r), target: framed ? '_blank' : null, rel: framed ? 'noopener' : null }, text));
      }
    }
    this.receipt.replaceChildren(...parts);
  }

  // lineText is the viewer's place in line in words: "You are number 3 in
  // line · about 20 s", or that its turn has come.
  lineText(line) {
    if (line.early) return this.locale.t('queueEarly');
    if (line.phase !== 'waiting') return this.locale.t('queueTurn');
    const [place, wait] = this.lineParts(line);
    return `${place} · ${wait}`;
  }

  lineParts(line) {
    const t = (k, p) => this.locale.t(k, p);
    const wait = waitParts(line.etaMs < 0 ? -1 : line.etaMs / 1000);
    return [t('queuePlace', { n: formatNumber(line.number, this.locale.lang) }), t(wait.key, { n: wait.n })];
  }

  renderLine(line) {
    this.line.hidden = !line;
    if (!line) return;
    const t = (k, p) => this.locale.t(k, p);
    this.line.dataset.phase = line.phase;
    const waiting = line.phase === 'waiting';
    setText(this.lineHead, t(waiting ? 'queueTitle' : 'queueTurn'));
    this.linePlace.hidden = !waiting;
    if (line.early) {
      setText(this.lineNum, t('queueEarly'));
      setText(this.lineEta, t('queueEarlyDraw'));
    } else if (waiting) {
      const [place, wait] = this.lineParts(line);
      setText(this.lineNum, place);
      setText(this.lineEta, wait);
    }
    // How far the line has moved since this page joined it.
    const start = Math.max(line.start || 0, line.number, 1);
    this.lineBar.value = waiting ? Math.max(0, Math.min(1, (start - line.number) / start)) : 1;
    this.lineBar.setAttribute('aria-label', t('queueProgress'));
    setText(this.lineNote, t('queueVoteNote'));
  }

  // announceText puts text in the waiting room's polite live region.
  announceText(text) {
    if (this.lineLive) setText(this.lineLive, text);
  }

  // announce puts a summary of the totals in the polite live region.
  announce(poll, results) {
    if (!this.announcer) return;
    const t = (k, p) => this.locale.t(k, p);
    if (!results || results.hidden || !Array.isArray(results.counts)) {
      if (results?.state === 'closed') setText(this.announcer, t('announceHidden'));
      return;
    }
    const counts = poll.options.map((_, i) => Number(results.counts[i]) || 0);
    const pcts = percents(counts);
    const list = poll.options.map((o, i) => `${o} ${pcts[i]}%`).join(', ');
    const total = counts.reduce((a, b) => a + b, 0);
    setText(this.announcer, t('announce', { list, n: formatNumber(total, this.locale.lang) }));
  }
}
