// pollform: the create/edit form of the dashboard. specErrors is pure and
// mirrors the server's limits, so the producer hears about a mistake
// before a round trip; the server still has the last word.

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

export class PollForm {
  // onSubmit(spec) returns a promise; it rejects with an Error to show.
  constructor(locale, onSubmit) {
    this.locale = locale;
    this.onSubmit = onSubmit;
    this.poll = null;
    this.form = el('form', { class: 'editor', novalidate: true });
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
  }

  t(k, p) { return this.locale.t(k, p); }

  // load fills the form from poll (null: a new poll) and redraws it.
  load(poll) {
    this.poll = poll;
    this.values = poll
      ? { question: poll.question, options: [...poll.options], votes_per_user: poll.votes_per_user || 1, allow_change: !!poll.allow_change, results: poll.results || 'live' }
      : { question: '', options: ['', ''], votes_per_user: 1, allow_change: false, results: 'live' };
    this.draw();
  }

  read() {
    const f = this.form;
    return {
      question: f.elements.question.value,
      options: [...f.querySelectorAll('input[name=option]')].map((i) => i.value),
      votes_per_user: Number(f.elements.votes.value),
      allow_change: f.elements.change.checked,
      results: f.elements.results.value,
    };
  }

  draw() {
    const t = (k, p) => this.t(k, p);
    const v = this.values;
    const optionRow = (text, i) => el('li', { class: 'opt-row' },
      el('input', { name: 'option', value: text, maxlength: 200, 'aria-label': t('option', { n: i + 1 }), placeholder: t('option', { n: i + 1 }), required: true }),
      el('button', { type: 'button', class: 'icon', 'aria-label': t('removeOption', { n: i + 1 }), disabled: v.options.length <= LIMITS.minOptions, onclick: () => {
        this.values = { ...this.read() };
        this.values.options.splice(i, 1);
        this.draw();
      } }, '×'));
    this.errors = el('div', { class: 'form-errors', role: 'alert' });
    const question = el('textarea', { id: 'f-question', name: 'question', rows: 2, maxlength: 500, required: true });
    question.value = v.question;
    const votes = el('input', { id: 'f-votes', name: 'votes', type: 'number', min: 1, max: 100, step: 1, value: v.votes_per_user, inputmode: 'numeric' });
    const change = el('input', { id: 'f-change', name: 'change', type: 'checkbox', checked: v.allow_change });
    const radio = (value, key) => el('label', { class: 'radio' },
      el('input', { type: 'radio', name: 'results', value, checked: v.results === value }), ' ', t(key));
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
      el('div', { class: 'row' },
        el('label', { for: 'f-votes' }, t('votesPerUser')), votes),
      el('label', { class: 'check' }, change, ' ', t('allowChange')),
      el('fieldset', { class: 'radios' }, el('legend', {}, t('results')), radio('live', 'resultsLive'), radio('hidden', 'resultsHidden')),
      this.errors,
      el('div', { class: 'actions' }, this.submitBtn));
  }

  async submit() {
    const spec = cleanSpec(this.read());
    const errs = specErrors(spec);
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
