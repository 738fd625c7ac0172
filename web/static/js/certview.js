// certview: draws a results certificate's checks and what it certifies,
// for the verify page and the dashboard. Text goes in as text only: the
// payload came over the network.

import { el } from './dom.js';
import { formatNumber } from './format.js';

const NAMES = { signature: 'Signature', key: 'Key', receipt: 'Receipt', option: 'Option', inclusion: 'Inclusion' };

// checkList is one line per check (certificate.js), ✓ or ✗, saying why
// on failure. seq is the receipt's number; options name option indexes.
export function checkList(checks, t, { seq = '', options = [] } = {}) {
  const name = (i) => (Number.isInteger(i) && typeof options[i] === 'string' ? options[i] : String(i));
  return el('ul', { class: 'checks' }, ...checks.map((c) => {
    const p = { n: seq, ...c.params };
    if (c.id === 'option') Object.assign(p, { option: name(c.params.option), got: name(c.params.got), want: name(c.params.want) });
    const text = c.ok ? t(`ok${NAMES[c.id]}`, p) : `${t(`bad${NAMES[c.id]}`, p)} ${t(c.reason, p)}`;
    return el('li', { class: 'check', 'data-check': c.id, 'data-ok': String(c.ok) },
      el('span', { class: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'), el('span', {}, text));
  }));
}

// verdict is the line above the checks: all passed, or not.
export function verdict(checks, t) {
  const ok = checks.length > 0 && checks.every((c) => c.ok);
  return el('p', { class: 'verdict', 'data-ok': String(ok), role: 'status' }, t(ok ? 'certAllPassed' : 'certSomeFailed'));
}

// facts is what the payload certifies: totals per option, then counted
// votes, log entries, times, root and key.
export function facts(payload, t, lang) {
  const n = (x) => formatNumber(Number(x) || 0, lang);
  const when = (v) => (v ? new Date(v).toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-US') : '–');
  const options = Array.isArray(payload.options) ? payload.options : [];
  const totals = Array.isArray(payload.totals) ? payload.totals : [];
  const row = (key, fact, value) => el('div', {}, el('dt', {}, t(key)), el('dd', { 'data-fact': fact }, value));
  return [
    el('h3', {}, t('certTotals')),
    el('ol', { class: 'cert-totals' }, ...options.map((o, i) => el('li', {}, el('span', { class: 'txt' }, String(o)), el('span', { class: 'num' }, n(totals[i]))))),
    el('dl', { class: 'cert-facts' },
      row('certCounted', 'counted', n(payload.counted)),
      row('certEntries', 'entries', n(payload.entries)),
      row('certClosedAt', 'closed_at', when(payload.closed_at)),
      row('certSignedAt', 'signed_at', when(payload.signed_at)),
      row('certRoot', 'root', el('code', {}, String(payload.root ?? ''))),
      row('certKey', 'public_key', el('code', {}, String(payload.public_key ?? '')))),
  ];
}
