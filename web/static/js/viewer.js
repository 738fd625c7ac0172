// viewer: entry point of /p/{id}, the page a viewer votes on.

import { Locale } from './i18n.js';
import { langSwitch, storage } from './dom.js';
import { startPollPage } from './pollpage.js';

const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const local = storage('localStorage');
const locale = new Locale({ storage: local, browserLangs: navigator.languages || [navigator.language] });

document.getElementById('lang').replaceWith(langSwitch(locale));
startPollPage({ root: document.getElementById('app'), id, locale, store: local, session: storage('sessionStorage') });
