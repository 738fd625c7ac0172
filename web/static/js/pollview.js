// pollview: draws one poll (question, option buttons, result bars, the
// viewer's feedback) and keeps it up to date in place, so bars animate and
// keyboard focus stays where it was. It reads state and calls onVote; the
// decisions live in pollpage.js and ballot.js.

import { el, setText } from './dom.js';
import { percents, formatNumber } from './format.js';

// shapeKey changes when the poll's text does, which rebuilds the DOM.
function shapeKey(poll) {
  return [poll.id, poll.question, ...poll.options].join('\u0000');
}

export class PollView {
  constructor(root, locale, onVote) {
    this.root = root;
    this.locale = locale;
    this.onVote = onVote;
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
    this.conn = el('span', { class: 'conn', role: 'status', hidden: true });
    this.question = el('h1', { class: 'q', id: 'poll-q' }, poll.question);
    this.left = el('p', { class: 'left', hidden: true });
    this.note = el('p', { class: 'note', hidden: true });
    this.rows = poll.options.map((text, i) => {
      const fill = el('span', { class: 'fill', 'aria-hidden': 'true' });
      const label = el('span', { class: 'txt' }, text);
      const num = el('span', { class: 'num' });
      const mine = el('span', { class: 'mine', hidden: true });
      const vote = el('button', { type: 'button', class: 'vote', onclick: () => this.onVote(i, 1) }, fill, label, mine, num);
      const minus = el('button', { type: 'button', class: 'minus', hidden: true, onclick: () => this.onVote(i, -1) }, '−');
      return { li: el('li', { class: 'opt' }, vote, minus), vote, minus, fill, label, num, mine, text };
    });
    this.list = el('ol', { class: 'opts', 'aria-labelledby': 'poll-q' }, ...this.rows.map((r) => r.li));
    this.status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.total = el('p', { class: 'total' });
    this.announcer = el('p', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' });
    this.root.replaceChildren(el('article', { class: 'poll' },
      el('div', { class: 'head' }, this.badge, this.conn),
      this.question, this.left, this.list, this.status, this.note, this.total, this.announcer));
    this.root.removeAttribute('aria-busy');
    this.shown = '';
    this.built = shapeKey(poll);
  }

  // render brings the DOM up to date with s: {poll, results, ballot,
  // feedback, connected, everConnected}.
  render(s) {
    const { poll, results, ballot } = s;
    if (this.built !== shapeKey(poll)) this.build(poll);
    const t = (k, p) => this.locale.t(k, p);
    const lang = this.locale.lang;
    const state = results?.state || poll.state;
    const open = state === 'open';

    setText(this.badge, t({ draft: 'stateDraft', open: 'stateOpen', closing: 'stateClosing', closed: 'stateClosed' }[state] || 'stateOpen'));
    this.badge.dataset.state = state;
    this.conn.hidden = s.connected || !s.everConnected || state === 'closed';
    setText(this.conn, t('offline'));

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

    this.note.hidden = !hidden || state === 'closed' || poll.results !== 'hidden';
    setText(this.note, t('hiddenNote'));
    const total = hidden ? 0 : Number(results.total ?? counts.reduce((a, b) => a + b, 0));
    this.total.hidden = hidden;
    setText(this.total, (state === 'closed' ? t('finalResults') + ' · ' : '') + (total === 1 ? t('totalVote1') : t('totalVotes', { n: formatNumber(total, lang) })));
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
