// pollform: the create/edit form of the dashboard. specErrors is pure and
// mirrors the server's limits, so the producer hears about a mistake
// before a round trip; the server still has the last word. A giveaway's
// prizes and answer are checked by the server alone: its 400 message is
// what the form shows.

import { el } from './dom.js';

const enc = new TextEncoder();
const bytes = (s) => enc.encode(s).length;

export const LIMITS = { minOptions: 2, maxOptions: 32, question: 500, option: 200, maxVotes: 100 };

// specErrors returns [key, params] pairs for i18n, empty when spec is fine.
export function specErrors(spec) {
  const errs = [];
  const q = spec.question.trim();
  if (!q || bytes(q) > LIMITS.question) errs.push(['errQuestion']);
  if (spec.options.length < LIMITS.minOptions || spec.options.length > LIMITS.maxOptions) errs.push(['errOptions']);
  spec.options.forEach((o, i) => {
    const t = o.trim();
    if (!t || bytes(t) > LIMITS.option) errs.push(['errOption', { n: i + 1 }]);
  });
  if (!Number.isInteger(spec.votes_per_user) || spec.votes_per_user < 1 || spec.votes_per_user > LIMITS.maxVotes) errs.push(['errVotes']);
  return errs;
}

// cleanSpec trims text and drops empty trailing option rows.
export function cleanSpec(spec) {
  const options = spec.options.map((o) => o.trim());
  while (options.length > LIMITS.minOptions && options.at(-1) === '') options.pop();
  return { ...spec, question: spec.question.trim(), options };
}

// giveawaySpec is what the form sends for its values: a poll leaves out
// the giveaway's fields (the server refuses them on a poll), a giveaway
// takes one entry per viewer without changes, and its answer (an option's
// index, or null: no quiz) only when one is chosen. Prizes go as typed
// (as a number, or null when not one): the server says what is wrong.
export function giveawaySpec(values) {
  const { kind, prizes, answer, ...spec } = values;
  if (kind !== 'giveaway') return spec;
  const n = String(prizes ?? '').trim() === '' ? null : Number(prizes);
  const out = { ...spec, kind: 'giveaway', prizes: Number.isFinite(n) ? n : null, votes_per_user: 1, allow_change: false };
  if (Number.isInteger(answer) && answer >= 0) out.answer = answer;
  return out;
}

export class PollForm {
  // onSubmit(spec) returns a promise; it rejects with an Error to show.
  constructor(locale, onSubmit) {
    this.locale = locale;
    this.onSubmit = onSubmit;
    this.poll = null;
    this.form = el('form', { class: 'editor', novalidate: true });
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    // The kind shows its fields; an option's text renames its answer.
    this.form.addEventListener('change', (e) => { if (e.target.name === 'kind') this.giveawayParts(); });
    this.form.addEventListener('input', (e) => { if (e.target.name === 'option') this.giveawayParts(); });
  }

  t(k, p) { return this.locale.t(k, p); }

  // load fills the form from poll (null: a new poll) and redraws it.
  load(poll) {
    this.poll = poll;
    this.values = poll
      ? {
          question: poll.question, options: [...poll.options], votes_per_user: poll.votes_per_user || 1, allow_change: !!poll.allow_change, results: poll.results || 'live',
          kind: poll.kind === 'giveaway' ? 'giveaway' : 'poll', prizes: poll.prizes || '', answer: Number.isInteger(poll.answer) ? poll.answer : null,
        }
      : { question: '', options: ['', ''], votes_per_user: 1, allow_change: false, results: 'live', kind: 'poll', prizes: 1, answer: null };
    this.draw();
  }

  read() {
    const f = this.form;
    const answer = f.elements.answer.value;
    return {
      question: f.elements.question.value,
      options: [...f.querySelectorAll('input[name=option]')].map((i) => i.value),
      votes_per_user: Number(f.elements.votes.value),
      allow_change: f.elements.change.checked,
      results: f.elements.results.value,
      kind: f.elements.kind.value,
      prizes: f.elements.prizes.value,
      answer: answer === '' ? null : Number(answer),
    };
  }

  // giveawayParts shows the giveaway's fields, or the poll's, for the
  // kind chosen, and lists the options as they read now as answers.
  giveawayParts() {
    const f = this.form;
    const giveaway = f.elements.kind.value === 'giveaway';
    for (const e of f.querySelectorAll('.for-giveaway')) e.hidden = !giveaway;
    for (const e of f.querySelectorAll('.for-poll')) e.hidden = giveaway;
    const select = f.elements.answer;
    const chosen = select.value;
    const options = [...f.querySelectorAll('input[name=option]')].map((i) => i.value.trim());
    select.replaceChildren(
      el('option', { value: '' }, this.t('answerNone')),
      ...options.map((o, i) => el('option', { value: String(i) }, `${i + 1}. ${o || this.t('option', { n: i + 1 })}`)));
    select.value = Number(chosen) < options.length ? chosen : '';
  }

  draw() {
    const t = (k, p) => this.t(k, p);
    const v = this.values;
    const optionRow = (text, i) => el('li', { class: 'opt-row' },
      el('input', { name: 'option', value: text, maxlength: 200, 'aria-label': t('option', { n: i + 1 }), placeholder: t('option', { n: i + 1 }), required: true }),
      el('button', { type: 'button', class: 'icon', 'aria-label': t('removeOption', { n: i + 1 }), disabled: v.options.length <= LIMITS.minOptions, onclick: () => {
        this.values = { ...this.read() };
        this.values.options.splice(i, 1);
        const a = this.values.answer; // the answer stays on its option
        if (a !== null) this.values.answer = a === i ? null : a > i ? a - 1 : a;
        this.draw();
      } }, '×'));
    this.errors = el('div', { class: 'form-errors', role: 'alert' });
    const question = el('textarea', { id: 'f-question', name: 'question', rows: 2, maxlength: 500, required: true });
    question.value = v.question;
    const votes = el('input', { id: 'f-votes', name: 'votes', type: 'number', min: 1, max: 100, step: 1, value: v.votes_per_user, inputmode: 'numeric' });
    const change = el('input', { id: 'f-change', name: 'change', type: 'checkbox', checked: v.allow_change });
    const radio = (value, key, name = 'results', checked = v.results === value) => el('label', { class: 'radio' },
      el('input', { type: 'radio', name, value, checked }), ' ', t(key));
    const prizes = el('input', { id: 'f-prizes', name: 'prizes', type: 'number', min: 1, max: 1000000, step: 1, value: v.prizes, inputmode: 'numeric' });
    const answer = el('select', { id: 'f-answer', name: 'answer', 'aria-describedby': 'f-answer-help' });
    answer.append(el('option', { value: v.answer ?? '', selected: true }, ''));
    const answerHelp = t('answerHelp');
    this.submitBtn = el('button', { type: 'submit', class: 'primary' }, t(this.poll ? 'save' : 'create'));
    this.form.replaceChildren(
      el('h2', {}, t(this.poll ? 'editPoll' : 'newPoll')),
      el('label', { for: 'f-question' }, t('question')), question,
      el('fieldset', {}, el('legend', {}, t('options')),
        el('ol', { class: 'opt-rows' }, ...v.options.map(optionRow)),
        el('button', { type: 'button', class: 'ghost', disabled: v.options.length >= LIMITS.maxOptions, onclick: () => {
          this.values = { ...this.read() };
          this.values.options.push('');
          this.draw();
          const inputs = this.form.querySelectorAll('input[name=option]');
          inputs[inputs.length - 1].focus();
        } }, '+ ', t('addOption'))),
      el('fieldset', { class: 'radios' }, el('legend', {}, t('kind')),
        radio('poll', 'kindPoll', 'kind', v.kind !== 'giveaway'), radio('giveaway', 'kindGiveaway', 'kind', v.kind === 'giveaway')),
      el('div', { class: 'for-giveaway giveaway-fields' },
        el('p', { class: 'help' }, t('giveawayHelp')),
        el('div', { class: 'row' }, el('label', { for: 'f-prizes' }, t('prizes')), prizes),
        el('label', { for: 'f-answer' }, t('answer')), answer,
        el('p', { class: 'help', id: 'f-answer-help' }, answerHelp)),
      el('div', { class: 'row for-poll' },
        el('label', { for: 'f-votes' }, t('votesPerUser')), votes),
      el('label', { class: 'check for-poll' }, change, ' ', t('allowChange')),
      el('fieldset', { class: 'radios' }, el('legend', {}, t('results')), radio('live', 'resultsLive'), radio('hidden', 'resultsHidden')),
      this.errors,
      el('div', { class: 'actions' }, this.submitBtn));
    this.giveawayParts();
  }

  async submit() {
    const values = cleanSpec(this.read());
    const spec = giveawaySpec(values);
    const errs = specErrors(values.kind === 'giveaway' ? { ...values, votes_per_user: 1 } : values);
    if (errs.length) {
      this.errors.replaceChildren(...errs.map(([k, p]) => el('p', {}, this.t(k, p))));
      return;
    }
    this.errors.replaceChildren();
    this.submitBtn.disabled = true;
    try {
      await this.onSubmit(spec, this.poll);
    } catch (e) {
      this.errors.replaceChildren(el('p', {}, this.t('error', { msg: e.message })));
    } finally {
      this.submitBtn.disabled = false;
    }
  }
}
