// dom: the few DOM helpers every page uses. Text goes in with textContent
// only, so a poll question can never become markup.

// el builds an element: el('button', {class: 'x', type: 'button'}, 'text', child).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c == null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export function setText(e, s) {
  if (e.textContent !== s) e.textContent = s;
}

// langSwitch renders the button that flips between English and Korean.
export function langSwitch(locale) {
  const b = el('button', { type: 'button', class: 'lang' });
  const paint = () => {
    const other = locale.other();
    b.textContent = other === 'ko' ? '한국어' : 'English';
    b.lang = other;
    b.setAttribute('aria-label', `${locale.t('switchTo')}: ${other === 'ko' ? '한국어' : 'English'}`);
    document.documentElement.lang = locale.lang;
  };
  b.addEventListener('click', () => locale.set(locale.other()));
  locale.onChange(paint);
  paint();
  return b;
}

export function storage(kind) {
  try {
    const s = globalThis[kind];
    s.getItem('x');
    return s;
  } catch {
    return null; // blocked (private mode, third-party frame)
  }
}
