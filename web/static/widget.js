/*! votecast widget: <script src="https://HOST/widget.js" data-poll="ID" async></script>
 * Optional attributes: data-theme="light|dark", data-accent="#e11d48",
 * data-lang="en|ko", data-radius="0-24", data-token="<viewer JWT from your backend>".
 * Renders the poll in an isolated frame sized to its content. A classic
 * script (not a module) so the one tag works on any page; it touches
 * nothing outside the element it inserts. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var base = new URL(script.src).origin;
  var poll = script.getAttribute('data-poll') || '';
  var lang = script.getAttribute('data-lang') || (navigator.language || 'en').slice(0, 2).toLowerCase();
  var ko = lang === 'ko';

  var host = document.createElement('div');
  host.className = 'votecast-widget';
  host.setAttribute('data-poll', poll);
  host.style.display = 'block';
  host.style.width = '100%';
  host.style.maxWidth = script.getAttribute('data-max-width') || '560px';
  script.parentNode.insertBefore(host, script.nextSibling);

  // notice shows a plain message in a shadow root, styled through the
  // CSSOM so the partner's own CSP (no inline style) does not block it.
  function notice(text) {
    var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
    var p = document.createElement('p');
    p.setAttribute('role', 'note');
    p.textContent = text;
    var s = p.style;
    s.margin = '0'; s.padding = '12px 14px'; s.border = '1px solid #e4a0a0'; s.borderRadius = '10px';
    s.background = '#fff5f5'; s.color = '#7a1c1c'; s.font = '14px/1.4 system-ui, sans-serif';
    root.appendChild(p);
  }

  if (!/^[A-Za-z0-9_-]{1,64}$/.test(poll)) {
    notice(ko ? 'votecast: data-poll 속성에 투표 ID를 넣어 주세요.' : 'votecast: set data-poll to the poll id.');
    return;
  }

  function frame() {
    var q = [];
    ['theme', 'accent', 'lang', 'radius'].forEach(function (k) {
      var v = script.getAttribute('data-' + k);
      if (v) q.push(k + '=' + encodeURIComponent(v));
    });
    var token = script.getAttribute('data-token');
    var f = document.createElement('iframe');
    f.src = base + '/embed/' + poll + (q.length ? '?' + q.join('&') : '') + (token ? '#token=' + encodeURIComponent(token) : '');
    f.title = ko ? '실시간 투표' : 'Live poll';
    f.setAttribute('sandbox', 'allow-scripts allow-same-origin');
    f.setAttribute('referrerpolicy', 'no-referrer');
    var s = f.style;
    s.display = 'block'; s.width = '100%'; s.height = '360px'; s.border = '0'; s.colorScheme = 'normal';
    window.addEventListener('message', function (e) {
      var d = e.data;
      if (e.origin !== base || e.source !== f.contentWindow || !d || d.type !== 'votecast:size' || d.poll !== poll) return;
      var h = Number(d.height);
      if (h > 0 && h < 5000) s.height = Math.ceil(h) + 'px';
    });
    host.appendChild(f);
  }

  // Ask first whether this site may embed polls, so a refused site reads
  // why instead of seeing a broken frame. The frame's CSP enforces it.
  fetch(base + '/widget/allowed', { mode: 'cors', credentials: 'omit', cache: 'no-store' })
    .then(function (r) { return r.json(); })
    .then(function (a) {
      if (a && a.allowed) return frame();
      notice(ko
        ? 'votecast: 이 사이트(' + location.origin + ')는 이 투표를 삽입할 수 없습니다. 방송사에 파트너 출처로 등록해 달라고 요청하세요.'
        : 'votecast: this site (' + location.origin + ') is not allowed to embed this poll. Ask the broadcaster to add it to the partner origins.');
    })
    .catch(function () {
      notice(ko ? 'votecast: 투표 서버에 연결할 수 없습니다.' : 'votecast: the poll server cannot be reached.');
    });
})();
