// embed: entry point of /embed/{id}, the frame the partner widget shows.
// Query parameters theme (light|dark), accent (#rgb/#rrggbb), lang (en|ko)
// and radius (0-24 px) style it; a viewer token from the partner comes in
// the fragment (#token=...), which never reaches a server log. The frame
// tells its parent its height so the widget fits its content.

import { Locale } from './i18n.js';
import { langSwitch, storage } from './dom.js';
import { startPollPage } from './pollpage.js';

const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const q = new URLSearchParams(location.search);
const frag = new URLSearchParams(location.hash.slice(1));
const root = document.documentElement;

const theme = q.get('theme');
if (theme === 'light' || theme === 'dark') root.dataset.theme = theme;
const accent = q.get('accent') || '';
if (/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(accent)) root.style.setProperty('--accent', accent);
const radius = Number(q.get('radius'));
if (q.has('radius') && Number.isInteger(radius) && radius >= 0 && radius <= 24) root.style.setProperty('--radius', `${radius}px`);

const local = storage('localStorage');
const lang = q.get('lang');
const locale = new Locale({ storage: local, browserLangs: navigator.languages || [navigator.language], forced: lang === 'en' || lang === 'ko' ? lang : '' });
document.getElementById('lang').replaceWith(langSwitch(locale));

let lastHeight = 0;
function reportSize() {
  const h = Math.ceil(document.documentElement.getBoundingClientRect().height);
  if (h === lastHeight || window.parent === window) return;
  lastHeight = h;
  window.parent.postMessage({ type: 'votecast:size', poll: id, height: h }, '*');
}
new ResizeObserver(reportSize).observe(document.body);

startPollPage({
  root: document.getElementById('app'),
  id,
  token: frag.get('token') || '',
  locale,
  store: local,
  session: storage('sessionStorage'),
  onRender: reportSize,
});
