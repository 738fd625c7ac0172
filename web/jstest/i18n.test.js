import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TEXT, LANGS, pickLang, translate, Locale } from '../static/js/i18n.js';
import { ADMIN_TEXT } from '../static/js/admintext.js';

for (const [name, table] of [['viewer', TEXT], ['dashboard', ADMIN_TEXT]]) {
  test(`${name} text: every language has every English key, and no extra ones`, () => {
    const en = Object.keys(table.en).sort();
    for (const l of LANGS) assert.deepEqual(Object.keys(table[l]).sort(), en, `keys of ${l}`);
  });

  test(`${name} text: placeholders match across languages`, () => {
    const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [k, s] of Object.entries(table.en)) assert.deepEqual(names(table.ko[k]), names(s), `placeholders of ${k}`);
  });
}

test('the dashboard text does not clash with the viewer text', () => {
  for (const k of Object.keys(ADMIN_TEXT.en)) assert.ok(!(k in TEXT.en), `${k} in both tables`);
});

test('pickLang', () => {
  const cases = [
    ['', ['ko-KR', 'en-US'], 'ko'],
    ['', ['fr-FR', 'ko'], 'ko'],
    ['', ['en-GB'], 'en'],
    ['', ['fr'], 'en'],
    ['', [], 'en'],
    ['en', ['ko-KR'], 'en'],
    ['xx', ['ko-KR'], 'ko'],
    ['', ['KO'], 'ko'],
  ];
  for (const [saved, langs, want] of cases) assert.equal(pickLang(saved, langs), want, `${saved} ${langs}`);
});

test('translate fills placeholders and falls back', () => {
  assert.equal(translate('en', 'votesLeft', { n: 2, total: 5 }), '2 of 5 votes left');
  assert.equal(translate('ko', 'votesLeft', { n: 2, total: 5 }), '5표 중 2표 남음');
  assert.equal(translate('ko', 'retryIn', { n: 3 }), '요청이 많습니다. 3초 후 다시 보냅니다');
  assert.equal(translate('en', 'takeBack', {}), 'Take one vote back from {option}');
  assert.equal(translate('xx', 'counted'), TEXT.en.counted);
  assert.equal(translate('en', 'no-such-key'), 'no-such-key');
});

test('Locale saves the choice and tells listeners', () => {
  const mem = new Map();
  const storage = { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, v) };
  const l = new Locale({ storage, browserLangs: ['en-US'] });
  assert.equal(l.lang, 'en');
  let heard = '';
  l.onChange((x) => { heard = x; });
  l.set(l.other());
  assert.equal(heard, 'ko');
  assert.equal(new Locale({ storage, browserLangs: ['en-US'] }).lang, 'ko');
  assert.equal(new Locale({ storage, forced: 'en' }).lang, 'en');
  const broken = { getItem() { throw new Error('blocked'); }, setItem() { throw new Error('blocked'); } };
  const b = new Locale({ storage: broken, browserLangs: ['ko'] });
  b.set('en');
  assert.equal(b.lang, 'en');
});
