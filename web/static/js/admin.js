// admin: entry point of /admin, the producer dashboard. Sign-in with the
// admin token, the poll list, the create/edit form, open and close, live
// totals, the votes/s chart and counters, the waiting room (its line and
// admission rate), exports, a closed poll's results certificate (checked
// here as on the verify page), a giveaway's prizes, winners and cutoff,
// and the embed snippet. Stats and the selected poll's totals are polled
// once a second, each request starting only when the previous one is done.

import { Locale, addText } from './i18n.js';
import { ADMIN_TEXT } from './admintext.js';
import { CERT_TEXT } from './certtext.js';
import { el, setText, langSwitch, storage } from './dom.js';
import { AdminAPI } from './api.js';
import { RateSeries, CounterRate } from './rates.js';
import { RateChart } from './chart.js';
import { PollForm } from './pollform.js';
import { percents, formatNumber, formatRate, waitParts } from './format.js';
import { loadCertificate, certificatePath } from './certificate.js';
import { checkList, verdict, facts } from './certview.js';

addText(ADMIN_TEXT);
addText(CERT_TEXT);

const WINDOW_MS = 5 * 60 * 1000;
const $ = (id) => document.getElementById(id);
const locale = new Locale({ storage: storage('localStorage'), browserLangs: navigator.languages || [navigator.language] });
const t = (k, p) => locale.t(k, p);
const api = new AdminAPI(storage('sessionStorage'));

let polls = [];
let selected = ''; // a poll id, 'new', or '' (nothing yet)
let detailKey = '';
let running = false;
let timers = [];
let series = new RateSeries(WINDOW_MS);
const letIn = new CounterRate(5000);
let lastStats = null;
let flash = null; // {kind, text} shown once in the detail panel
const axisLabels = () => ({ from: (n) => t('chartFrom', { n }), now: t('chartNow') });
const chart = new RateChart($('chart'), WINDOW_MS, axisLabels());
const form = new PollForm(locale, savePoll);
const detail = $('detail');
const certs = new Map(); // poll id -> its checked certificate, which never changes

document.getElementById('lang').replaceWith(langSwitch(locale));
locale.onChange(() => {
  translateStatic();
  chart.labels = axisLabels();
  chart.draw();
  detailKey = '';
  renderList();
  renderDetail();
});
translateStatic();
api.onUnauthorized = signOut;
$('login-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('token').value.trim()); });
$('signout').addEventListener('click', signOut);
$('new-poll').addEventListener('click', () => select('new'));
$('rate-form').addEventListener('submit', (e) => { e.preventDefault(); setRate(); });
if (api.token) signIn(api.token);
else showLogin();

function translateStatic() {
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
  document.title = `votecast · ${t('dashboard')}`;
}

function showLogin(error = '') {
  running = false;
  timers.forEach(clearTimeout);
  $('dash').hidden = true;
  $('signout').hidden = true;
  $('login').hidden = false;
  setText($('login-error'), error ? t(error) : '');
  $('token').focus();
}

async function signIn(token) {
  if (!token) return showLogin('badToken');
  api.token = token;
  try {
    polls = await api.listPolls();
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      api.token = '';
      return showLogin('badToken');
    }
    return showLogin('serverDown');
  }
  $('token').value = '';
  $('login').hidden = true;
  $('dash').hidden = false;
  $('signout').hidden = false;
  if (!selected) selected = polls.length ? polls[0].id : 'new';
  renderList();
  renderDetail();
  if (!running) {
    running = true;
    loop(tickStats, 1000);
    loop(tickResults, 1000);
    loop(tickList, 5000);
  }
}

function signOut() {
  api.token = '';
  selected = '';
  detailKey = '';
  showLogin();
}

// loop runs f every ms, never two at once.
function loop(f, ms) {
  const run = async () => {
    if (!running) return;
    try { await f(); } catch { /* shown by f */ }
    if (running) timers.push(setTimeout(run, ms));
  };
  run();
}

async function tickList() {
  polls = await api.listPolls();
  renderList();
  renderDetail();
}

async function tickStats() {
  let s;
  try {
    s = await api.stats();
  } catch (e) {
    $('stats-error').hidden = false;
    setText($('stats-error'), `${t('noStats')} (${e.status || t('serverDown')})`);
    return;
  }
  $('stats-error').hidden = true;
  lastStats = s;
  series.add(Date.now(), s.acks || {});
  const lang = locale.lang;
  const acks = s.acks || {};
  setText($('s-viewers'), formatNumber(s.viewers ?? 0, lang));
  setText($('s-rate'), formatRate(series.current(), lang));
  for (const k of ['accepted', 'duplicate', 'rejected', 'retry']) setText($(`s-${k}`), formatNumber(acks[k] ?? 0, lang));
  setText($('s-lag'), formatNumber(s.tally_pending ?? 0, lang));
  $('s-lag').title = t('tallyLagHelp');
  chart.update(series.points);
  $('chart').setAttribute('aria-label', t('chartLabel', { n: formatRate(series.current(), lang), peak: formatRate(series.peak(), lang) }));
  const pv = $('poll-viewers');
  if (pv) setText(pv, t('pollViewers', { n: formatNumber(s.polls?.[selected]?.viewers ?? 0, lang) }));
  renderQueue(s.queue);
}

// renderQueue shows the waiting room's line (absent when the server has
// no waiting room): its length, how many are let in per second (from
// successive readings of the admitted count), and how long the last in
// line should wait at the admission rate.
function renderQueue(q) {
  $('queue').hidden = !q;
  if (!q) return;
  const lang = locale.lang;
  const perSecond = letIn.add(Date.now(), q.admitted);
  const waiting = Number(q.waiting) || 0;
  const rate = Number(q.rate) || 0;
  setText($('q-waiting'), formatNumber(waiting, lang));
  setText($('q-letin'), perSecond === null ? '–' : formatRate(perSecond, lang));
  let wait = '–';
  if (waiting > 0 && rate <= 0) wait = t('queueStopped');
  else if (waiting > 0) {
    const w = waitParts(waiting / rate);
    wait = t(w.key, { n: w.n });
  }
  setText($('q-wait'), wait);
  setText($('q-rate'), t('perSecond', { n: formatNumber(rate, lang) }));
  setText($('q-admitted'), formatNumber(Number(q.admitted) || 0, lang));
  setText($('q-votes'), formatNumber(Number(q.votes) || 0, lang));
  const input = $('rate-input');
  if (input.value === '' && document.activeElement !== input) input.value = String(rate);
}

async function setRate() {
  const input = $('rate-input');
  const msg = $('rate-msg');
  const raw = input.value.trim();
  const rate = Number(raw);
  if (raw === '' || !Number.isFinite(rate) || rate < 0 || rate > 1e6) {
    input.setAttribute('aria-invalid', 'true');
    msg.className = 'form-errors';
    setText(msg, t('badRate'));
    input.focus();
    return;
  }
  input.removeAttribute('aria-invalid');
  try {
    const q = await api.setQueueRate(rate);
    msg.className = 'ok-msg';
    setText(msg, t('rateSet', { n: formatNumber(Number(q.rate) || 0, locale.lang) }));
    renderQueue(q);
  } catch (e) {
    msg.className = 'form-errors';
    setText(msg, t('error', { msg: e.message }));
  }
}

async function tickResults() {
  const p = current();
  if (!p || p.state === 'draft') return;
  const r = await api.results(p.id);
  const bars = $('bars');
  if (!bars || current()?.id !== p.id) return;
  const revealed = renderGiveaway(p, r.giveaway);
  const counts = p.options.map((_, i) => Number(r.counts?.[i]) || 0);
  const pcts = percents(counts);
  const lang = locale.lang;
  bars.replaceChildren(...p.options.map((o, i) => {
    const fill = el('span', { class: 'fill', 'aria-hidden': 'true' });
    fill.style.transform = `scaleX(${pcts[i] / 100})`;
    return el('li', {}, fill, el('span', { class: 'txt' }, o), el('span', { class: 'num' }, `${pcts[i]}% · ${formatNumber(counts[i], lang)}`));
  }));
  setText($('bars-total'), t('totalVotes', { n: formatNumber(r.total ?? counts.reduce((a, b) => a + b, 0), lang) }));
  if ((r.state && r.state !== p.state) || revealed) {
    p.state = r.state || p.state;
    renderList();
    renderDetail();
  }
}

// renderGiveaway fills a giveaway's figures from its totals: prizes,
// winners, left, sold out and the last winning entry's number (the
// cutoff: entries at or before it on the right answer won). It reports
// whether the totals just showed a quiz's answer the poll did not have.
function renderGiveaway(p, g) {
  const box = $('gw-figures');
  if (!box || !g) return false;
  const lang = locale.lang;
  const n = (x) => formatNumber(Number(x) || 0, lang);
  setText($('gw-prizes'), n(g.prizes));
  setText($('gw-winners'), n(g.winners));
  setText($('gw-left'), n(g.left));
  setText($('gw-sold'), t(g.sold_out ? 'gaYes' : 'gaNo'));
  $('gw-sold').dataset.soldOut = String(!!g.sold_out);
  setText($('gw-cutoff'), g.cutoff ? `#${g.cutoff}` : '–');
  if (!Number.isInteger(g.answer) || Number.isInteger(p.answer)) return false;
  p.answer = g.answer; // shown now that it is decided
  return true;
}

function current() {
  return polls.find((p) => p.id === selected) || null;
}

function select(id) {
  selected = id;
  flash = null;
  renderList();
  renderDetail();
}

function renderList() {
  const list = $('poll-list');
  if (!polls.length) {
    list.replaceChildren(el('li', { class: 'help' }, t('noPolls')));
    return;
  }
  const sorted = [...polls].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  list.replaceChildren(...sorted.map((p) => el('li', {},
    el('button', { type: 'button', class: 'poll-item', 'aria-current': String(p.id === selected), onclick: () => select(p.id) },
      el('span', { class: 'txt' }, p.question, p.kind === 'giveaway' ? el('span', { class: 'badge kind' }, prizesText(p)) : null),
      el('span', { class: 'badge', 'data-state': p.state }, stateText(p.state))))));
}

function prizesText(p) {
  return p.prizes === 1 ? t('gaRules1') : t('gaRules', { n: formatNumber(p.prizes || 0, locale.lang) });
}

function stateText(s) {
  return t({ draft: 'stateDraft', open: 'stateOpen', closing: 'stateClosing', closed: 'stateClosed' }[s] || 'stateDraft');
}

// renderDetail rebuilds the right-hand panel when what it shows changed;
// the once-a-second ticks only touch the totals inside it.
function renderDetail() {
  const p = current();
  const key = selected === 'new' ? 'new' : p ? JSON.stringify([p.id, p.state, p.question, p.options, p.votes_per_user, p.allow_change, p.results, p.kind, p.prizes, p.answer, locale.lang]) : 'none';
  if (key === detailKey) return;
  detailKey = key;
  if (selected === 'new' || !p) {
    form.load(null);
    detail.replaceChildren(flashLine(), form.form);
    return;
  }
  const lang = locale.lang;
  const when = (k, v) => (v ? `${t(k)} ${new Date(v).toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-US')}` : '');
  const meta = [when('created_at', p.created_at), when('opened_at', p.opened_at), when('closed_at', p.closed_at)].filter(Boolean).join(' · ');
  const giveaway = p.kind === 'giveaway';
  const answer = giveaway && Number.isInteger(p.answer) ? ` · ${t('gaAnswerIs', { option: p.options[p.answer] ?? p.answer + 1 })}` : '';
  const rules = giveaway
    ? `${prizesText(p)}${answer} · ${t('results')}: ${t(p.results === 'hidden' ? 'resultsHidden' : 'resultsLive')}`
    : `${t('votesPerUser')}: ${p.votes_per_user || 1} · ${t('results')}: ${t(p.results === 'hidden' ? 'resultsHidden' : 'resultsLive')}${p.allow_change ? ` · ${t('allowChange')}` : ''}`;
  const actions = el('div', { class: 'actions' });
  if (p.state === 'draft') actions.append(el('button', { type: 'button', class: 'primary', id: 'open-poll', onclick: () => act(api.openPoll(p.id)) }, t('open')));
  if (p.state === 'open' || p.state === 'closing') {
    actions.append(el('button', { type: 'button', class: 'primary danger', id: 'close-poll', disabled: p.state === 'closing', onclick: () => act(api.closePoll(p.id)) }, t('close')));
  }
  const viewerURL = `${location.origin}/p/${p.id}`;
  actions.append(el('a', { href: viewerURL, target: '_blank', rel: 'noopener' }, `${t('viewerLink')} ↗`));

  const parts = [
    flashLine(),
    el('div', { class: 'detail-head' }, el('h2', {}, p.question), el('span', { class: 'badge', 'data-state': p.state, id: 'detail-state' }, stateText(p.state))),
    el('p', { class: 'meta' }, rules),
    el('p', { class: 'meta' }, meta),
    actions,
  ];
  if (p.state === 'draft') {
    form.load(p);
    parts.push(form.form);
  } else {
    if (giveaway) parts.push(giveawayBlock(p));
    parts.push(
      el('h3', {}, t('liveTotals')),
      el('ul', { class: 'bars', id: 'bars' }),
      el('p', { class: 'meta', id: 'bars-total' }),
      el('p', { class: 'meta', id: 'poll-viewers' }, t('pollViewers', { n: formatNumber(lastStats?.polls?.[p.id]?.viewers ?? 0, lang) })),
      el('h3', {}, t('export')),
      el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'ghost', id: 'export-csv', onclick: () => download(p.id, 'csv') }, t('exportCSV')),
        el('button', { type: 'button', class: 'ghost', id: 'export-json', onclick: () => download(p.id, 'json') }, t('exportJSON'))));
  }
  if (p.state === 'closed') {
    parts.push(el('section', { class: 'cert-panel', id: 'cert', 'aria-labelledby': 'cert-h' },
      el('h3', { id: 'cert-h' }, t('certTitle')), el('p', { class: 'help' }, t('certLoading'))));
  }
  parts.push(...embedBlock(p));
  detail.replaceChildren(...parts);
  if (p.state !== 'draft') tickResults().catch(() => {});
  if (p.state === 'closed') showCertificate(p.id, 0);
}

// showCertificate fills the closed poll's certificate panel: the checks,
// what it certifies and the downloads. The first request after the close
// makes the certificate (it reads the poll's whole log), so a failure is
// retried a few times while the poll is still the one shown.
async function showCertificate(id, tries) {
  let c = certs.get(id);
  if (!c) {
    c = await loadCertificate(id);
    if (c.checks) certs.set(id, c);
  }
  const box = $('cert');
  if (!box || current()?.id !== id) return;
  const head = el('h3', { id: 'cert-h' }, t('certTitle'));
  if (c.error) {
    box.replaceChildren(head, el('p', { class: 'form-errors' }, t(c.error)));
    if (c.retry && tries < 5) timers.push(setTimeout(() => showCertificate(id, tries + 1), 2000 * (tries + 1)));
    return;
  }
  const actions = el('div', { class: 'actions' },
    el('button', { type: 'button', class: 'ghost', id: 'export-log', onclick: () => saveFile(() => api.logExport(id), `votecast-${id}.ndjson`) }, t('exportLog')),
    el('a', { href: certificatePath(id), download: `votecast-${id}-certificate.json`, id: 'cert-download' }, t('certDownload')),
    el('a', { href: `/verify?poll=${encodeURIComponent(id)}`, target: '_blank', rel: 'noopener' }, `${t('certPublicPage')} ↗`));
  box.replaceChildren(head, verdict(c.checks, t), checkList(c.checks, t),
    ...(c.payload ? facts(c.payload, t, locale.lang) : []), actions);
}

function giveawayBlock(p) {
  const fig = (key, id, value = '–') => el('div', {}, el('dt', {}, t(key)), el('dd', { id }, value));
  return el('section', { class: 'gw-panel', 'aria-labelledby': 'gw-h' },
    el('h3', { id: 'gw-h' }, t('gaTitle')),
    el('dl', { class: 'figures', id: 'gw-figures' },
      fig('gaPrizes', 'gw-prizes', formatNumber(p.prizes || 0, locale.lang)),
      fig('gaWinners', 'gw-winners'),
      fig('gaLeft', 'gw-left'),
      fig('gaSoldOut', 'gw-sold'),
      fig('gaCutoff', 'gw-cutoff')));
}

function embedBlock(p) {
  const snippet = `<script src="${location.origin}/widget.js" data-poll="${p.id}" async></script>`;
  const area = el('textarea', { class: 'snippet', id: 'embed-snippet', readonly: true, rows: 2, 'aria-label': t('embed') });
  area.value = snippet;
  const copy = el('button', { type: 'button', class: 'ghost', id: 'copy-embed' }, t('copy'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(snippet);
    } catch {
      area.select();
      document.execCommand('copy');
    }
    copy.textContent = t('copied');
    setTimeout(() => { copy.textContent = t('copy'); }, 2000);
  });
  return [el('h3', {}, t('embed')), area, el('div', { class: 'actions' }, copy), el('p', { class: 'help' }, t('embedHelp'))];
}

function flashLine() {
  const f = flash;
  flash = null;
  return el('p', { class: f?.kind === 'error' ? 'form-errors' : 'ok-msg', role: 'status' }, f ? f.text : '');
}

async function act(promise) {
  try {
    upsert(await promise);
  } catch (e) {
    flash = { kind: 'error', text: t('error', { msg: e.message }) };
  }
  detailKey = '';
  renderList();
  renderDetail();
}

async function savePoll(spec, poll) {
  const saved = poll ? await api.updatePoll(poll.id, spec) : await api.createPoll(spec);
  upsert(saved);
  selected = saved.id;
  flash = { kind: 'ok', text: t(poll ? 'saved' : 'created') };
  detailKey = '';
  renderList();
  renderDetail();
}

function upsert(p) {
  const i = polls.findIndex((x) => x.id === p.id);
  if (i >= 0) polls[i] = p;
  else polls.push(p);
}

function download(id, format) {
  return saveFile(() => api.export(id, format), `poll-${id}.${format}`);
}

// saveFile downloads what get answers (a Blob fetched with the token in
// its header: a plain link would need the token in the URL).
async function saveFile(get, name) {
  try {
    const blob = await get();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    flash = { kind: 'error', text: t('error', { msg: e.message }) };
    detailKey = '';
    renderDetail();
  }
}
