// index: entry point of /, the list of open polls.

import { Locale } from './i18n.js';
import { el, langSwitch, storage } from './dom.js';

const locale = new Locale({ storage: storage('localStorage'), browserLangs: navigator.languages || [navigator.language] });
const list = document.getElementById('polls');
const title = document.getElementById('title');
const refresh = document.getElementById('refresh');
let polls = null;
let failed = false;

document.getElementById('lang').replaceWith(langSwitch(locale));
locale.onChange(render);
refresh.addEventListener('click', load);
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') load(); });
load();

async function load() {
  try {
    const res = await fetch('/api/polls?state=open', { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(String(res.status));
    const body = await res.json();
    polls = (Array.isArray(body) ? body : body.polls || []).filter((p) => !p.state || p.state === 'open');
    failed = false;
  } catch {
    failed = true;
  }
  render();
}

function render() {
  const t = (k) => locale.t(k);
  title.textContent = t('openPolls');
  refresh.textContent = t('refresh');
  list.removeAttribute('aria-busy');
  if (failed) {
    list.replaceChildren(el('li', { class: 'notice' }, t('listFailed')));
  } else if (!polls) {
    list.replaceChildren(el('li', { class: 'notice' }, t('loading')));
  } else if (polls.length === 0) {
    list.replaceChildren(el('li', { class: 'notice' }, t('noOpenPolls')));
  } else {
    list.replaceChildren(...polls.map((p) => el('li', {},
      el('a', { class: 'poll-link', href: `/p/${encodeURIComponent(p.id)}` },
        el('span', { class: 'txt' }, p.question),
        el('span', { class: 'badge', 'data-state': 'open' }, t('stateOpen'))))));
  }
}
