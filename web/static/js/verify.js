// verify: entry point of /verify?poll=ID&seq=N&option=O, where a viewer
// checks a vote in a closed poll's results certificate. Every check runs
// here, in the browser (certificate.js): the server only hands over the
// certificate, its published key and the receipt, and a server that lied
// in any of them would fail a check. seq and option are optional: without
// seq the page checks the certificate alone.

import { Locale, addText } from './i18n.js';
import { CERT_TEXT } from './certtext.js';
import { el, langSwitch, storage } from './dom.js';
import { loadCertificate, checkReceipt, getJSON, certificatePath, receiptPath } from './certificate.js';
import { checkList, verdict, facts } from './certview.js';

addText(CERT_TEXT);

const q = new URLSearchParams(location.search);
const poll = q.get('poll') || '';
const seqParam = q.get('seq');
const seq = /^[1-9][0-9]{0,15}$/.test(seqParam || '') ? Number(seqParam) : null;
const option = /^[0-9]{1,3}$/.test(q.get('option') || '') ? Number(q.get('option')) : null;
const root = document.getElementById('app');
const locale = new Locale({ storage: storage('localStorage'), browserLangs: navigator.languages || [navigator.language] });
const t = (k, p) => locale.t(k, p);
let found = { loading: true }; // kept so a language switch redraws it

document.getElementById('lang').replaceWith(langSwitch(locale));
locale.onChange(draw);
run();

async function run() {
  found = { loading: true };
  draw();
  found = poll ? await check() : { error: 'verifyNoPoll' };
  draw();
}

async function check() {
  const got = await loadCertificate(poll);
  if (seqParam !== null && got.payload) got.checks.push(...await receiptChecks(got.payload));
  return got;
}

async function receiptChecks(payload) {
  const failed = (reason, params = {}) => [{ id: 'receipt', ok: false, reason, params }];
  if (seq === null) return failed('whyBadSeq', { n: seqParam });
  const r = await getJSON(receiptPath(poll, seq));
  if (r.status === 200 && r.body) return checkReceipt(payload, r.body, { seq, option });
  if (r.status === 404) return failed('whyNoVote');
  if (r.status === 400) return failed('whyBadSeq', { n: seqParam });
  return failed('whyReceiptFailed', { status: r.status || t('certNetwork') });
}

function draw() {
  root.removeAttribute('aria-busy');
  document.title = `${t('certTitle')} · votecast`;
  if (found.loading) {
    root.replaceChildren(el('p', { class: 'notice' }, t('certLoading')));
    return;
  }
  if (found.error) {
    root.replaceChildren(el('p', { class: 'notice', role: 'alert' }, t(found.error)),
      found.retry && el('button', { type: 'button', class: 'ghost', onclick: run }, t('tryAgain')));
    return;
  }
  const p = found.payload;
  root.replaceChildren(el('article', { class: 'poll cert' },
    el('p', { class: 'cert-h' }, t('certTitle')),
    p && el('h1', { class: 'q' }, String(p.question ?? '')),
    verdict(found.checks, t),
    el('h2', { class: 'sr-only' }, t('certChecks')),
    checkList(found.checks, t, { seq: seq ?? seqParam ?? '', options: p?.options || [] }),
    ...(p ? facts(p, t, locale.lang) : []),
    el('p', { class: 'cert-dl' }, el('a', { href: certificatePath(poll), download: `votecast-${poll}-certificate.json` }, t('certDownload')))));
}
