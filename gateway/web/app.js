/* DispatchAI triage dashboard: one page, no framework, no build step.
 *
 * Data flow: the REST API gives a snapshot (GET /api/issues, /api/stats,
 * /api/repos, /api/issues/{owner}/{repo}/{number}); the WebSocket (/ws) then
 * streams every classification as it is applied. A reconnect resumes with
 * ?since=<last seq>; when the gateway no longer holds what was missed it says
 * resync_required and the page takes a fresh snapshot. Filters live in the
 * URL and drive the REST query, the WebSocket subscription and the check
 * applied to each live update.
 *
 * Everything from the server is inserted with textContent / DOM properties,
 * never as HTML, and links are only followed when they are http(s). */
'use strict';

(function () {
  var TOKEN_KEY = 'dispatchai.token';
  var PAGE = 100;             /* items per REST page */
  var MAX_ITEMS = 2000;       /* items kept in the page; older ones drop off */
  var STATS_DEBOUNCE_MS = 800;
  var STATS_POLL_MS = 15000;  /* counts also change for issues outside the subscription */
  var PING_MS = 25000;
  var RETRY_MIN_MS = 500, RETRY_MAX_MS = 15000;

  var CATEGORIES = ['bug', 'feature_request', 'enhancement', 'documentation', 'question', 'security'];
  var PRIORITIES = ['critical', 'high', 'medium', 'low'];
  var FILTER_KEYS = ['repo', 'category', 'priority', 'state', 'team', 'q'];

  var S = {
    filter: { repo: '', category: '', priority: '', state: '', team: '', q: '' },
    items: new Map(),    /* key (lower case) -> enriched event */
    order: [],           /* keys, newest first */
    nextCursor: null,
    listGen: 0,          /* bumps on every new snapshot; stale answers are dropped */
    listLoading: false,
    liveDuring: null,    /* updates received while a snapshot loads */
    lastSeq: null,       /* seq of the last update seen (resume point) */
    ws: null,
    wsGen: 0,
    retries: 0,
    retryTimer: 0,
    pingTimer: 0,
    conn: 'connecting',
    token: '',
    readNeedsToken: false,
    detailKey: null,     /* key of the open detail panel */
    detailRef: null,     /* {owner, repo, number} */
    detailTimer: 0,
    pendingCorrection: null, /* key awaiting its human update */
    statsTimer: 0,
    stats: {},
    fresh: new Set(),    /* keys to highlight once */
    rows: new Map(),     /* key -> <tr> */
    focusKey: null,      /* row holding the roving tabindex */
    teams: new Set(),
    repos: new Set()
  };

  function $(id) { return document.getElementById(id); }

  /* ---- small helpers --------------------------------------------------- */

  /* ASCII-only lower-casing, as the gateway compares (gw_lower). */
  function lc(s) {
    return String(s == null ? '' : s).replace(/[A-Z]/g, function (c) { return c.toLowerCase(); });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function human(s) { return String(s || '').replace(/_/g, ' '); }

  function safeHref(u) {
    try {
      var url = new URL(u, location.href);
      if (url.protocol === 'https:' || url.protocol === 'http:') return url.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function subjectOf(ev) {
    var isPr = !!ev.pull_request || !!(ev.issue && ev.issue.is_pull_request);
    return { type: isPr ? 'pull_request' : 'issue', obj: ev.pull_request || ev.issue || {} };
  }

  function repoOf(ev) { return (ev.repository && ev.repository.full_name) || ''; }

  function keyOf(ev) {
    var s = subjectOf(ev);
    return lc(repoOf(ev) + ':' + s.type + ':' + s.obj.number);
  }

  function timeOf(ev) {
    var t = Date.parse((ev.processing_metadata && ev.processing_metadata.processed_at) || '');
    return isNaN(t) ? 0 : t;
  }

  function ago(ms) {
    var d = Math.max(0, Date.now() - ms) / 1000;
    if (d < 45) return Math.round(d) + ' s ago';
    if (d < 3600) return Math.round(d / 60) + ' min ago';
    if (d < 86400) return Math.round(d / 3600) + ' h ago';
    return Math.round(d / 86400) + ' d ago';
  }

  function apiHeaders(extra) {
    var h = { Accept: 'application/json' };
    if (S.token) h.Authorization = 'Bearer ' + S.token;
    for (var k in extra || {}) h[k] = extra[k];
    return h;
  }

  /* fetch + JSON; rejects with {status, code, message}. */
  function api(path, opts) {
    opts = opts || {};
    return fetch(path, {
      method: opts.method || 'GET',
      headers: apiHeaders(opts.headers),
      body: opts.body,
      cache: 'no-store'
    }).then(function (r) {
      return r.text().then(function (t) {
        var body = null;
        try { body = t ? JSON.parse(t) : null; } catch (e) { body = null; }
        if (!r.ok) {
          var e = (body && body.error) || {};
          var err = new Error(e.message || ('HTTP ' + r.status));
          err.status = r.status;
          err.code = e.code || '';
          throw err;
        }
        return body;
      });
    });
  }

  /* ---- filters and the URL ---------------------------------------------- */

  function readFilterFromUrl() {
    var p = new URLSearchParams(location.search);
    FILTER_KEYS.forEach(function (k) { S.filter[k] = (p.get(k) || '').trim(); });
    if (CATEGORIES.indexOf(S.filter.category) < 0) S.filter.category = '';
    if (PRIORITIES.indexOf(S.filter.priority) < 0) S.filter.priority = '';
    if (['open', 'closed'].indexOf(S.filter.state) < 0) S.filter.state = '';
    return p.get('issue') || '';
  }

  function writeUrl() {
    var p = new URLSearchParams();
    FILTER_KEYS.forEach(function (k) { if (S.filter[k]) p.set(k, S.filter[k]); });
    if (S.detailRef) p.set('issue', S.detailRef.owner + '/' + S.detailRef.repo + '#' + S.detailRef.number);
    var qs = p.toString();
    var url = location.pathname + (qs ? '?' + qs : '');
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  }

  function filterToForm() {
    $('f-repo').value = S.filter.repo;
    $('f-category').value = S.filter.category;
    $('f-priority').value = S.filter.priority;
    $('f-state').value = S.filter.state;
    $('f-team').value = S.filter.team;
    $('f-q').value = S.filter.q;
  }

  function formToFilter() {
    var f = {
      repo: $('f-repo').value.trim(),
      category: $('f-category').value,
      priority: $('f-priority').value,
      state: $('f-state').value,
      team: $('f-team').value.trim(),
      q: $('f-q').value.trim()
    };
    var changed = FILTER_KEYS.some(function (k) { return f[k] !== S.filter[k]; });
    var repoChanged = f.repo !== S.filter.repo;
    S.filter = f;
    return { changed: changed, repoChanged: repoChanged };
  }

  function restQuery() {
    var p = new URLSearchParams();
    var f = S.filter;
    if (f.repo) p.set('repo', f.repo);
    if (f.category) p.set('category', f.category);
    if (f.priority) p.set('priority', f.priority);
    if (f.state) p.set('state', f.state);
    if (f.team) p.set('assignee', f.team);
    if (f.q) p.set('q', f.q);
    p.set('limit', String(PAGE));
    return p;
  }

  function wsFilter() {
    var f = S.filter, m = {};
    if (f.repo) m.repos = [f.repo];
    if (f.category) m.categories = [f.category];
    if (f.priority) m.priorities = [f.priority];
    if (f.state) m.states = [f.state];
    if (f.team) m.assignees = [f.team];
    return m;
  }

  /* The same test the gateway applies, for live updates (the subscription
   * cannot express the title text, and updates also announce issues that
   * just left the view). */
  function matches(ev) {
    var f = S.filter, c = ev.classification || {}, s = subjectOf(ev);
    if (f.repo && lc(repoOf(ev)) !== lc(f.repo)) return false;
    if (f.category && c.category !== f.category) return false;
    if (f.priority && c.priority !== f.priority) return false;
    if (f.state && s.obj.state !== f.state) return false;
    if (f.team) {
      var team = lc(c.suggested_assignee || '');
      if (lc(f.team) === 'none' ? team !== '' : team !== lc(f.team)) return false;
    }
    if (f.q && lc(s.obj.title).indexOf(lc(f.q)) < 0) return false;
    return true;
  }

  /* ---- the item set ------------------------------------------------------ */

  function compare(a, b) {
    var ta = timeOf(S.items.get(a)), tb = timeOf(S.items.get(b));
    if (ta !== tb) return tb - ta;
    return a < b ? 1 : a > b ? -1 : 0;
  }

  function noteVocabulary(ev) {
    var c = ev.classification || {};
    if (c.suggested_assignee && !S.teams.has(c.suggested_assignee)) {
      S.teams.add(c.suggested_assignee);
      var o = el('option');
      o.value = c.suggested_assignee;
      $('team-list').appendChild(o);
    }
    var r = repoOf(ev);
    if (r && !S.repos.has(r)) {
      S.repos.add(r);
      var ro = el('option');
      ro.value = r;
      $('repo-list').appendChild(ro);
    }
  }

  /* Merge one event; live = it came over the WebSocket. Returns true when
   * the visible set changed. A snapshot never replaces a newer event. */
  function upsert(ev, live, removed) {
    var key = keyOf(ev);
    var cur = S.items.get(key);
    noteVocabulary(ev);
    if (removed || !matches(ev)) {
      if (!cur) return false;
      S.items.delete(key);
      S.order.splice(S.order.indexOf(key), 1);
      return true;
    }
    if (cur && !live && timeOf(cur) > timeOf(ev)) return false;
    if (cur) S.order.splice(S.order.indexOf(key), 1);
    S.items.set(key, ev);
    /* Insert in place: updates nearly always land at the top. */
    var i = 0;
    while (i < S.order.length && compare(S.order[i], key) < 0) i++;
    S.order.splice(i, 0, key);
    if (live) S.fresh.add(key);
    while (S.order.length > MAX_ITEMS) S.items.delete(S.order.pop());
    return true;
  }

  /* ---- rendering: feed ------------------------------------------------------ */

  function badge(kind, value, label) {
    var b = el('span', 'badge ' + kind + ' ' + kind + '-' + (value || 'none'), label || human(value) || '—');
    return b;
  }

  function fillRow(tr, key, ev) {
    var s = subjectOf(ev), c = ev.classification || {};
    var ms = timeOf(ev);
    tr.textContent = '';
    tr.dataset.key = key;
    tr.dataset.category = c.category || '';
    tr.dataset.priority = c.priority || '';
    tr.dataset.source = c.source || '';

    var tdNum = el('td', 'c-num');
    tdNum.dataset.label = 'Issue';
    tdNum.appendChild(el('span', 'repo', repoOf(ev)));
    tdNum.appendChild(el('span', 'num', (s.type === 'pull_request' ? ' PR #' : ' #') + s.obj.number));
    tr.appendChild(tdNum);

    var tdTitle = el('td', 'c-title');
    tdTitle.dataset.label = 'Title';
    var href = safeHref(s.obj.html_url);
    var a = el(href ? 'a' : 'span', 'title', s.obj.title || '(no title)');
    if (href) {
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.title = 'Open on GitHub';
    }
    tdTitle.appendChild(a);
    if (s.obj.state && s.obj.state !== 'open') tdTitle.appendChild(el('span', 'pill pill-' + s.obj.state, s.obj.state));
    var det = el('button', 'linkish details-btn', 'Details');
    det.type = 'button';
    det.tabIndex = -1;
    det.setAttribute('aria-label', 'Details of ' + repoOf(ev) + ' #' + s.obj.number);
    tdTitle.appendChild(det);
    tr.appendChild(tdTitle);

    var cells = [
      ['Category', 'col-cat', badge('cat', c.category)],
      ['Priority', 'col-prio', badge('prio', c.priority)],
      ['Effort', 'col-effort', el('span', 'effort', human(c.effort_estimate) || '—')],
      ['Team', 'col-team', el('span', 'team', c.suggested_assignee || '—')],
      ['Confidence', 'col-conf', el('span', 'conf', typeof c.confidence === 'number' ? Math.round(c.confidence * 100) + '%' : '—')],
      ['Source', 'col-src', badge('src', c.source, c.source === 'human' && c.corrected_by ? 'human · ' + c.corrected_by : c.source)]
    ];
    cells.forEach(function (cell) {
      var td = el('td', cell[1]);
      td.dataset.label = cell[0];
      td.appendChild(cell[2]);
      tr.appendChild(td);
    });
    var tdTime = el('td', 'c-time');
    tdTime.dataset.label = 'Classified';
    var t = el('time', 'ago', ms ? ago(ms) : '—');
    if (ms) {
      t.dateTime = new Date(ms).toISOString();
      t.title = new Date(ms).toLocaleString();
      t.dataset.ms = String(ms);
    }
    tdTime.appendChild(t);
    tr.appendChild(tdTime);
  }

  function renderFeed() {
    var body = $('feed-body');
    var active = document.activeElement;
    var activeKey = active && active.closest && active.closest('tr') && body.contains(active) ?
      active.closest('tr').dataset.key : null;
    var keep = new Set(S.order);

    S.rows.forEach(function (tr, key) {
      if (!keep.has(key)) { tr.remove(); S.rows.delete(key); }
    });
    if (S.focusKey && !keep.has(S.focusKey)) S.focusKey = null;
    if (!S.focusKey && S.order.length) S.focusKey = S.order[0];

    var prev = null;
    S.order.forEach(function (key) {
      var ev = S.items.get(key);
      var tr = S.rows.get(key);
      if (!tr) {
        tr = el('tr', 'item');
        S.rows.set(key, tr);
        tr.__ev = null;
      }
      if (tr.__ev !== ev) {
        fillRow(tr, key, ev);
        tr.__ev = ev;
      }
      tr.tabIndex = key === S.focusKey ? 0 : -1;
      tr.classList.toggle('selected', key === S.detailKey);
      if (key === S.detailKey) tr.setAttribute('aria-current', 'true');
      else tr.removeAttribute('aria-current');
      var want = prev ? prev.nextSibling : body.firstChild;
      if (want !== tr) body.insertBefore(tr, want);
      if (S.fresh.has(key)) {
        tr.classList.remove('flash');
        void tr.offsetWidth; /* restart the animation */
        tr.classList.add('flash');
      }
      prev = tr;
    });
    S.fresh.clear();
    if (activeKey && S.rows.has(activeKey) && document.activeElement !== active) {
      S.rows.get(activeKey).focus({ preventScroll: true });
    }
    $('feed-empty').hidden = S.order.length > 0 || S.listLoading;
    $('more').hidden = !S.nextCursor;
    $('feed-count').textContent = S.order.length + (S.nextCursor ? '+' : '') +
      (S.order.length === 1 ? ' item' : ' items') + ' shown';
  }

  function tickTimes() {
    var nodes = document.querySelectorAll('time.ago[data-ms]');
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = ago(Number(nodes[i].dataset.ms));
  }

  /* ---- rendering: charts (inline SVG) --------------------------------------- */

  var SVGNS = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = String(text);
    return e;
  }

  function renderChart(box, field, names, counts, selected) {
    /* Draw at the box's real width so text stays at its CSS size on any
     * screen (a scaled viewBox would shrink it on a phone). */
    var rowH = 26, labelW = 128, countW = 52;
    var width = Math.max(240, Math.min(560, box.clientWidth || 420));
    var barW = width - labelW - countW;
    var max = 1;
    names.forEach(function (n) { max = Math.max(max, counts[n] || 0); });
    var summary = names.map(function (n) { return human(n) + ' ' + (counts[n] || 0); }).join(', ');
    var root = svg('svg', {
      viewBox: '0 0 ' + width + ' ' + (names.length * rowH),
      class: 'bars',
      role: 'group',
      'aria-label': 'Counts by ' + field + ': ' + summary
    });
    names.forEach(function (n, i) {
      var v = counts[n] || 0, y = i * rowH;
      var g = svg('g', {
        class: 'bar ' + field + '-' + n + (selected === n ? ' on' : ''),
        role: 'button',
        tabindex: '0',
        'data-value': n,
        'data-count': String(v),
        'aria-pressed': selected === n ? 'true' : 'false',
        'aria-label': human(n) + ': ' + v + '. ' + (selected === n ? 'Remove filter' : 'Filter by ' + human(n))
      });
      g.appendChild(svg('rect', { class: 'hit', x: 0, y: y, width: width, height: rowH }));
      g.appendChild(svg('text', { class: 'lbl', x: labelW - 8, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'central' }, human(n)));
      g.appendChild(svg('rect', {
        class: 'fill', x: labelW, y: y + 5, height: rowH - 10, rx: 3,
        width: Math.max(v ? 2 : 0, Math.round(barW * v / max))
      }));
      g.appendChild(svg('text', { class: 'cnt', x: width - 4, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'central' }, v));
      root.appendChild(g);
    });
    box.textContent = '';
    box.appendChild(root);
  }

  function renderStats(st) {
    S.stats = st;
    renderChart($('chart-category'), 'category', CATEGORIES, st.by_category || {}, S.filter.category);
    renderChart($('chart-priority'), 'priority', PRIORITIES, st.by_priority || {}, S.filter.priority);
    $('stat-total').textContent = String(st.total || 0);
    var src = st.by_source || {};
    $('stat-sources').textContent = ['llm', 'offline', 'human'].map(function (k) {
      return (src[k] || 0) + ' ' + k;
    }).join(' · ');
    $('charts-scope').textContent = S.filter.repo ? '(' + S.filter.repo + ')' : '(all repositories)';
  }

  function loadStats() {
    clearTimeout(S.statsTimer);
    S.statsTimer = 0;
    var p = new URLSearchParams();
    if (S.filter.repo) p.set('repo', S.filter.repo);
    var qs = p.toString();
    return api('/api/stats' + (qs ? '?' + qs : '')).then(renderStats, function (e) {
      if (e.status === 401) needReadToken();
    });
  }

  function statsSoon() {
    if (!S.statsTimer) S.statsTimer = setTimeout(loadStats, STATS_DEBOUNCE_MS);
  }

  function loadRepos() {
    return api('/api/repos').then(function (r) {
      (r && r.items || []).forEach(function (it) { noteVocabulary({ repository: { full_name: it.name }, classification: {} }); });
    }, function () { /* the datalist is a convenience */ });
  }

  /* ---- REST snapshot ------------------------------------------------------- */

  function showError(msg) {
    var e = $('feed-error');
    e.textContent = msg || '';
    e.hidden = !msg;
  }

  function needReadToken() {
    S.readNeedsToken = true;
    showError('This gateway does not allow anonymous reads: enter an access token (top right).');
    $('token-box').open = true;
  }

  /* Replace the list with a fresh snapshot for the current filter. */
  function loadList() {
    var gen = ++S.listGen;
    /* Updates that arrive while the snapshot is on its way may be newer
     * than it: they are replayed over it once it lands. */
    var during = [];
    S.liveDuring = during;
    S.listLoading = true;
    return api('/api/issues?' + restQuery().toString()).then(function (r) {
      if (gen !== S.listGen) return;
      S.liveDuring = null;
      S.items.clear();
      S.order = [];
      (r.items || []).forEach(function (ev) { upsert(ev, false); });
      during.forEach(function (u) { upsert(u.ev, true, u.removed); });
      S.nextCursor = r.next_cursor || null;
      S.listLoading = false;
      showError('');
      renderFeed();
    }, function (e) {
      if (gen !== S.listGen) return;
      S.liveDuring = null;
      S.listLoading = false;
      if (e.status === 401 || e.status === 403) needReadToken();
      else showError('Could not load issues: ' + e.message);
      renderFeed();
    });
  }

  function loadMore() {
    if (!S.nextCursor) return;
    var gen = S.listGen;
    var p = restQuery();
    p.set('cursor', S.nextCursor);
    $('more').disabled = true;
    api('/api/issues?' + p.toString()).then(function (r) {
      $('more').disabled = false;
      if (gen !== S.listGen) return;
      (r.items || []).forEach(function (ev) { upsert(ev, false); });
      S.nextCursor = r.next_cursor || null;
      renderFeed();
    }, function (e) {
      $('more').disabled = false;
      showError('Could not load older issues: ' + e.message);
    });
  }

  /* ---- WebSocket --------------------------------------------------------------- */

  function setConn(state, text) {
    S.conn = state;
    var c = $('conn');
    c.dataset.state = state;
    $('conn-text').textContent = text;
  }

  /* RFC 7230 token characters, all a subprotocol name may hold. */
  var TCHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

  /* The token for the handshake, when reads need one. It goes in a
   * subprotocol, out of URLs (and so of proxy logs); only a token with other
   * characters falls back to ?token=. */
  function wsToken() {
    return S.readNeedsToken && S.token ? S.token : '';
  }

  function wsProtocols() {
    var tok = wsToken();
    return tok && TCHARS.test(tok) ? ['dispatchai.v1', 'dispatchai.token.' + tok] : [];
  }

  function wsUrl() {
    var p = new URLSearchParams();
    var tok = wsToken();
    if (S.lastSeq != null) p.set('since', String(S.lastSeq));
    if (tok && !TCHARS.test(tok)) p.set('token', tok);
    var qs = p.toString();
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + (qs ? '?' + qs : '');
  }

  function wsSend(obj) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(obj));
  }

  function subscribe() {
    wsSend({ type: 'subscribe', filter: wsFilter() });
  }

  function connect() {
    clearTimeout(S.retryTimer);
    var gen = ++S.wsGen;
    var resuming = S.lastSeq != null;
    var ws;
    try {
      ws = new WebSocket(wsUrl(), wsProtocols());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    S.ws = ws;
    setConn(S.retries ? 'reconnecting' : 'connecting', S.retries ? 'Reconnecting…' : 'Connecting…');

    var opened = false;
    ws.onopen = function () {
      if (gen !== S.wsGen) return;
      opened = true;
      subscribe();
      clearInterval(S.pingTimer);
      S.pingTimer = setInterval(function () { wsSend({ type: 'ping' }); }, PING_MS);
    };
    ws.onmessage = function (m) {
      if (gen !== S.wsGen) return;
      var msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      onMessage(msg, resuming);
    };
    ws.onclose = function (ev) {
      if (gen !== S.wsGen) return;
      clearInterval(S.pingTimer);
      S.ws = null;
      /* A handshake refused before it opened may be a 401: browsers do
       * not tell. With a token saved, offer it next time; the token is
       * only sent when reads evidently need it. */
      if (!opened && S.token) S.readNeedsToken = true;
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows and reconnects */ };
  }

  /* Drop whatever connection or retry is pending and connect at once (a
   * token was just entered). The old socket's events are ignored. */
  function reconnectNow() {
    clearTimeout(S.retryTimer);
    clearInterval(S.pingTimer);
    if (S.ws) {
      S.wsGen++;
      try { S.ws.close(1000, 'reconnecting'); } catch (e) { /* already closing */ }
      S.ws = null;
    }
    S.retries = 0;
    connect();
  }

  function scheduleReconnect() {
    S.retries++;
    var base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * Math.pow(2, S.retries - 1));
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    var until = Date.now() + delay;
    var show = function () {
      var s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setConn('reconnecting', 'Reconnecting in ' + s + ' s (attempt ' + S.retries + ')');
    };
    show();
    clearTimeout(S.retryTimer);
    var tick = function () {
      if (Date.now() >= until) { connect(); return; }
      show();
      S.retryTimer = setTimeout(tick, Math.min(1000, until - Date.now()));
    };
    S.retryTimer = setTimeout(tick, Math.min(1000, delay));
  }

  function resync() {
    setConn('resync', 'Resyncing…');
    Promise.all([loadList(), loadStats()]).then(function () {
      if (S.ws && S.ws.readyState === WebSocket.OPEN) setConn('live', 'Live');
    });
    refreshDetailSoon();
  }

  function onMessage(msg, resuming) {
    switch (msg.type) {
    case 'hello':
      S.retries = 0;
      if (typeof msg.seq === 'number' && (S.lastSeq == null || !resuming)) S.lastSeq = msg.seq;
      setConn('live', 'Live');
      /* A fresh session (not a resume): take a snapshot after the hello so
       * nothing applied between the two is missed; updates that are also in
       * the snapshot merge by time. */
      if (!resuming) { loadList(); loadStats(); }
      break;
    case 'issue_update':
      if (typeof msg.seq === 'number') S.lastSeq = S.lastSeq == null ? msg.seq : Math.max(S.lastSeq, msg.seq);
      if (msg.data) onUpdate(msg.data, msg.removed === true);
      break;
    case 'resync_required':
      if (typeof msg.seq === 'number') S.lastSeq = msg.seq;
      resync();
      break;
    case 'error':
      if (window.console) console.warn('gateway says:', (msg.error && msg.error.message) || msg);
      break;
    default:
      break;
    }
  }

  function onUpdate(ev, removed) {
    if (S.liveDuring) S.liveDuring.push({ ev: ev, removed: removed });
    if (upsert(ev, true, removed)) renderFeed();
    statsSoon();
    var key = keyOf(ev);
    if (key === S.detailKey) refreshDetailSoon();
    var pc = S.pendingCorrection;
    if (pc && pc.key === key && ev.classification && ev.classification.source === 'human') {
      /* The update can overtake the POST's answer: the gateway answers once
       * the broker has the event, and its own consumer may apply it first. */
      pc.arrived = true;
      if (pc.accepted) correctionApplied();
    }
  }

  /* ---- detail panel --------------------------------------------------------------- */

  function refOf(ev) {
    var parts = repoOf(ev).split('/');
    return { owner: parts[0], repo: parts.slice(1).join('/'), number: subjectOf(ev).obj.number };
  }

  function detailPath(ref) {
    return '/api/issues/' + encodeURIComponent(ref.owner) + '/' + encodeURIComponent(ref.repo) + '/' +
      encodeURIComponent(String(ref.number));
  }

  function openDetail(ref, focus) {
    S.detailRef = ref;
    /* The key is known for sure once the details arrive; until then guess
     * from the feed (an issue or a pull request with that number). */
    var base = lc(ref.owner + '/' + ref.repo) + ':';
    S.detailKey = S.items.has(base + 'pull_request:' + ref.number) ? base + 'pull_request:' + ref.number :
      base + 'issue:' + ref.number;
    writeUrl();
    var panel = $('detail');
    panel.hidden = false;
    document.body.classList.add('has-detail');
    $('c-status').textContent = '';
    loadDetail(focus);
  }

  function closeDetail() {
    var key = S.detailKey;
    S.detailRef = null;
    S.detailKey = null;
    $('detail').hidden = true;
    document.body.classList.remove('has-detail');
    writeUrl();
    renderFeed();
    if (key && S.rows.has(key)) S.rows.get(key).focus();
  }

  function refreshDetailSoon() {
    if (!S.detailRef) return;
    clearTimeout(S.detailTimer);
    S.detailTimer = setTimeout(function () { loadDetail(false); }, 150);
  }

  function loadDetail(focus) {
    var ref = S.detailRef;
    if (!ref) return;
    api(detailPath(ref)).then(function (d) {
      if (ref !== S.detailRef) return;
      renderDetail(d, focus);
    }, function (e) {
      if (ref !== S.detailRef) return;
      $('d-title').textContent = e.status === 404 ? 'Not found: ' + ref.owner + '/' + ref.repo + ' #' + ref.number :
        'Could not load the details: ' + e.message;
      if (e.status === 401) needReadToken();
      if (focus) $('d-title').focus();
    });
  }

  function kv(dl, k, v) {
    dl.appendChild(el('dt', null, k));
    var dd = el('dd');
    if (v instanceof Node) dd.appendChild(v); else dd.textContent = v == null || v === '' ? '—' : String(v);
    dl.appendChild(dd);
  }

  function renderDetail(d, focus) {
    var ev = d.latest || {};
    var s = subjectOf(ev), c = ev.classification || {}, pm = ev.processing_metadata || {};
    S.detailKey = keyOf(ev);
    $('d-title').textContent = s.obj.title || '(no title)';
    var link = $('d-link');
    var href = safeHref(s.obj.html_url);
    link.textContent = repoOf(ev) + (s.type === 'pull_request' ? ' PR #' : ' #') + s.obj.number;
    if (href) link.href = href; else link.removeAttribute('href');
    $('d-state').textContent = s.obj.state || '';
    $('d-state').className = 'pill pill-' + (s.obj.state || 'other');
    $('d-type').textContent = s.type === 'pull_request' ? 'pull request' : 'issue';

    var dl = $('d-fields');
    dl.textContent = '';
    kv(dl, 'Category', badge('cat', c.category));
    kv(dl, 'Priority', badge('prio', c.priority));
    kv(dl, 'Effort', human(c.effort_estimate));
    kv(dl, 'Suggested team', c.suggested_assignee);
    kv(dl, 'Confidence', typeof c.confidence === 'number' ? Math.round(c.confidence * 100) + '%' : null);
    kv(dl, 'Source', badge('src', c.source, c.source === 'human' && c.corrected_by ? 'human · ' + c.corrected_by : c.source));
    kv(dl, 'Model', pm.model_version);
    kv(dl, 'Classified', pm.processed_at ? new Date(pm.processed_at).toLocaleString() : null);
    if (d.human_override) kv(dl, 'Human override', 'yes — automatic classifications no longer replace it');
    if (c.note) kv(dl, 'Note', c.note);

    /* A human correction carries no reasoning of its own; show what the
     * model said last, marked as such, next to the corrector's note. */
    var reasoning = c.reasoning, from = '';
    if (!reasoning) {
      var hs = d.history || [];
      for (var i = hs.length - 1; i >= 0; i--) {
        if (hs[i].source !== 'human' && hs[i].reasoning) {
          reasoning = hs[i].reasoning;
          from = 'From the last automatic classification (' + (hs[i].model_version || hs[i].source) + '): ';
          break;
        }
      }
    }
    $('d-summary').textContent = c.summary || '';
    $('d-summary').hidden = $('d-summary-h').hidden = !c.summary;
    $('d-reasoning').textContent = reasoning || '—';
    $('d-reasoning-from').textContent = from;
    $('d-reasoning-from').hidden = !from;
    var tags = $('d-tags');
    tags.textContent = '';
    (c.tags || []).forEach(function (t) { tags.appendChild(el('span', 'tag', t)); });

    var ol = $('d-history');
    ol.textContent = '';
    var hist = (d.history || []).slice().reverse();
    if (!hist.length) ol.appendChild(el('li', 'hint', 'No classifications recorded.'));
    hist.forEach(function (h) {
      var li = el('li', 'hist' + (h.applied === false ? ' not-applied' : ''));
      var head = el('div', 'hist-head');
      head.appendChild(badge('src', h.source, h.source === 'human' && h.corrected_by ? 'human · ' + h.corrected_by : h.source));
      head.appendChild(badge('cat', h.category));
      head.appendChild(badge('prio', h.priority));
      head.appendChild(el('span', 'effort', human(h.effort_estimate)));
      if (h.suggested_assignee) head.appendChild(el('span', 'team', h.suggested_assignee));
      if (typeof h.confidence === 'number') head.appendChild(el('span', 'conf', Math.round(h.confidence * 100) + '%'));
      li.appendChild(head);
      var meta = [];
      if (h.processed_at) meta.push(new Date(h.processed_at).toLocaleString());
      if (h.model_version) meta.push(h.model_version);
      if (h.event_action) meta.push('on ' + h.event_action);
      if (h.applied === false) meta.push('not applied (a human correction stands)');
      li.appendChild(el('div', 'hint', meta.join(' · ')));
      if (h.reasoning) li.appendChild(el('p', 'reasoning', h.reasoning));
      if (h.note) li.appendChild(el('p', 'note', 'Note: ' + h.note));
      ol.appendChild(li);
    });

    /* Preset the correction form to what stands now, unless the user is
     * editing it (an update arriving mid-edit must not wipe their choice). */
    var form = $('correction');
    if (!form.contains(document.activeElement) || focus) {
      $('c-category').value = c.category || 'bug';
      $('c-priority').value = c.priority || 'medium';
      $('c-effort').value = c.effort_estimate || 'medium';
      $('c-team').value = c.suggested_assignee || '';
    }
    $('c-token-field').hidden = !!S.token;
    renderFeed();
    if (focus) $('d-title').focus();
  }

  function correctionApplied() {
    S.pendingCorrection = null;
    $('c-status').textContent = 'Correction applied — every open dashboard now shows it.';
  }

  function submitCorrection(e) {
    e.preventDefault();
    var ref = S.detailRef;
    if (!ref) return;
    var status = $('c-status');
    var tok = S.token || $('c-token').value.trim();
    if (!tok) {
      $('c-token-field').hidden = false;
      status.textContent = 'A write token is needed to submit a correction.';
      $('c-token').focus();
      return;
    }
    var team = $('c-team').value.trim();
    var note = $('c-note').value.trim();
    var body = {
      category: $('c-category').value,
      priority: $('c-priority').value,
      effort_estimate: $('c-effort').value,
      suggested_assignee: team || null,
      note: note || null
    };
    var btn = $('c-submit');
    var pc = { key: S.detailKey, arrived: false, accepted: false };
    S.pendingCorrection = pc;
    btn.disabled = true;
    status.textContent = 'Sending…';
    fetch(detailPath(ref) + '/correction', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: 'Bearer ' + tok },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (x) { j = null; }
        btn.disabled = false;
        if (r.ok) {
          if (!S.token) saveToken(tok);
          $('c-note').value = '';
          pc.accepted = true;
          if (pc.arrived) correctionApplied();
          else status.textContent = 'Correction accepted; waiting for it to come back from the topic…';
          return;
        }
        if (S.pendingCorrection === pc) S.pendingCorrection = null;
        var msg = (j && j.error && j.error.message) || ('HTTP ' + r.status);
        if (r.status === 401) {
          status.textContent = 'The token was not accepted (' + msg + ').';
          $('c-token-field').hidden = false;
        } else if (r.status === 403) {
          status.textContent = 'This token may not write corrections (' + msg + ').';
          $('c-token-field').hidden = false;
        } else {
          status.textContent = 'Not accepted: ' + msg;
        }
      });
    }, function (x) {
      btn.disabled = false;
      if (S.pendingCorrection === pc) S.pendingCorrection = null;
      status.textContent = 'Could not reach the gateway: ' + x.message;
    });
  }

  /* ---- token ---------------------------------------------------------------------- */

  function loadToken() {
    try { S.token = localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { S.token = ''; }
    showTokenState();
  }

  function saveToken(t) {
    S.token = t;
    try {
      if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* private mode: keep it for this page only */ }
    showTokenState();
  }

  function showTokenState() {
    $('token-state').textContent = S.token ? 'A token is saved in this browser.' : 'No token saved.';
    $('token-input').value = '';
    $('c-token-field').hidden = !!S.token;
    $('c-token').value = '';
  }

  /* ---- wiring ----------------------------------------------------------------------- */

  function applyFilters(force) {
    var r = formToFilter();
    if (!r.changed && force !== true) return;
    writeUrl();
    subscribe();
    loadList();
    /* Counts depend on the repository only; the other filters just move
     * the highlighted bar. */
    if (r.repoChanged || force === true) loadStats(); else renderStats(S.stats);
  }

  function toggleFilterFromChart(field, value) {
    var sel = field === 'category' ? $('f-category') : $('f-priority');
    sel.value = sel.value === value ? '' : value;
    applyFilters();
  }

  function rowFromEvent(t) {
    var tr = t.closest && t.closest('tr.item');
    return tr && $('feed-body').contains(tr) ? tr : null;
  }

  function openRow(tr, focus) {
    var ev = S.items.get(tr.dataset.key);
    if (!ev) return;
    S.focusKey = tr.dataset.key;
    openDetail(refOf(ev), focus);
  }

  function moveFocus(tr, delta) {
    var i = S.order.indexOf(tr.dataset.key) + delta;
    if (i < 0 || i >= S.order.length) return;
    S.focusKey = S.order[i];
    renderFeed();
    S.rows.get(S.focusKey).focus();
  }

  function init() {
    loadToken();
    var issueParam = readFilterFromUrl();
    filterToForm();

    var qTimer = 0;
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); applyFilters(); });
    $('filters').addEventListener('change', function () { applyFilters(); });
    $('f-q').addEventListener('input', function () {
      clearTimeout(qTimer);
      qTimer = setTimeout(function () { applyFilters(); }, 250);
    });
    ['f-repo', 'f-team'].forEach(function (id) {
      var t = 0;
      $(id).addEventListener('input', function () { clearTimeout(t); t = setTimeout(function () { applyFilters(); }, 400); });
    });
    $('f-clear').addEventListener('click', function () {
      S.filter = { repo: '', category: '', priority: '', state: '', team: '', q: '' };
      filterToForm();
      applyFilters(true);
    });

    var body = $('feed-body');
    body.addEventListener('click', function (e) {
      if (e.target.closest('a')) return; /* the title goes to GitHub */
      var tr = rowFromEvent(e.target);
      if (tr) openRow(tr, false);
    });
    body.addEventListener('keydown', function (e) {
      var tr = rowFromEvent(e.target);
      if (!tr) return;
      if (e.target !== tr && e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      if (e.key === 'ArrowDown') { e.preventDefault(); moveFocus(tr, 1); }
      else if (e.key === 'ArrowUp') { e.preventDefault(); moveFocus(tr, -1); }
      else if (e.key === 'Home') { e.preventDefault(); moveFocus(tr, -S.order.indexOf(tr.dataset.key)); }
      else if (e.key === 'End') { e.preventDefault(); moveFocus(tr, S.order.length - 1 - S.order.indexOf(tr.dataset.key)); }
      else if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openRow(tr, true); }
    });
    $('more').addEventListener('click', loadMore);
    $('d-close').addEventListener('click', closeDetail);
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && S.detailRef) { closeDetail(); return; }
      var tag = (e.target && e.target.tagName) || '';
      if (e.key === '/' && !/INPUT|TEXTAREA|SELECT/.test(tag)) { e.preventDefault(); $('f-q').focus(); }
    });
    $('correction').addEventListener('submit', submitCorrection);

    ['chart-category', 'chart-priority'].forEach(function (id) {
      var box = $(id), field = id === 'chart-category' ? 'category' : 'priority';
      box.addEventListener('click', function (e) {
        var g = e.target.closest && e.target.closest('g.bar');
        if (g) toggleFilterFromChart(field, g.getAttribute('data-value'));
      });
      box.addEventListener('keydown', function (e) {
        var g = e.target.closest && e.target.closest('g.bar');
        if (g && (e.key === 'Enter' || e.key === ' ')) {
          e.preventDefault();
          var v = g.getAttribute('data-value');
          toggleFilterFromChart(field, v);
          var again = box.querySelector('g.bar[data-value="' + v + '"]');
          if (again) again.focus();
        }
      });
    });

    $('token-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var t = $('token-input').value.trim();
      if (!t) return;
      saveToken(t);
      $('token-box').open = false;
      if (S.readNeedsToken) {
        showError('');
        loadList();
        loadStats();
        loadRepos();
        reconnectNow();
      }
    });
    $('token-forget').addEventListener('click', function () { saveToken(''); });

    renderStats({});
    loadList();
    loadStats();
    loadRepos();
    connect();
    setInterval(tickTimes, 15000);
    /* Charts are drawn at their box's width: redraw when it changes (a
     * window resize, or the detail panel taking half the page). */
    var resizeTimer = 0, lastW = 0;
    var redraw = function () {
      var w = $('chart-category').clientWidth;
      if (w === lastW) return;
      lastW = w;
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { renderStats(S.stats); }, 60);
    };
    if (window.ResizeObserver) new ResizeObserver(redraw).observe($('chart-category'));
    else window.addEventListener('resize', redraw);
    setInterval(function () { if (!document.hidden) loadStats(); }, STATS_POLL_MS);

    var m = /^([^/]+)\/(.+)#(\d+)$/.exec(issueParam);
    if (m) openDetail({ owner: m[1], repo: m[2], number: Number(m[3]) }, false);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
