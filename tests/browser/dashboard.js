#!/usr/bin/env node
/* The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium,
 * never a downloaded build) driven by playwright-core, against a running
 * gateway that tests/integration/test_dashboard.py feeds with real events.
 *
 * The Python side owns the broker, the gateway and the events. This script
 * owns the browser. They talk over stdio, one JSON object per line: the
 * script prints {"need": "<what>"} when the next step needs the world to
 * change (an event produced, the gateway stopped) and reads the answer from
 * stdin; it prints {"step": ...} as it goes and {"done": true, ...} at the
 * end. Any failure prints {"error": ...}, saves a screenshot and exits 1.
 *
 * Input: DASH_CONFIG (JSON): scenario ("full", or "private" for a gateway
 * without public reads), url, token(s), out_dir, and what the page should
 * show. Screenshots go to out_dir (under .run/). */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const cfg = JSON.parse(process.env.DASH_CONFIG || '{}');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const T = Number(process.env.DASH_TIMEOUT_MS || 20000);

const rl = readline.createInterface({ input: process.stdin });
const answers = [];
let waiting = null;
rl.on('line', (line) => {
  const msg = JSON.parse(line);
  if (waiting) { const w = waiting; waiting = null; w(msg); } else answers.push(msg);
});

function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

/* Ask the Python side to change the world; resolves with its answer. */
function need(what, extra) {
  emit(Object.assign({ need: what }, extra || {}));
  if (answers.length) return Promise.resolve(answers.shift());
  return new Promise((resolve) => { waiting = resolve; });
}

function step(name, detail) { emit(Object.assign({ step: name }, detail || {})); }

function check(cond, msg) { if (!cond) throw new Error('check failed: ' + msg); }

const pageErrors = [];
let lastPage = null; /* for the failure screenshot */

async function newPage(ctx, label, viewport) {
  const p = await ctx.newPage();
  lastPage = p;
  if (viewport) await p.setViewportSize(viewport);
  p.on('pageerror', (e) => pageErrors.push(label + ': ' + e.message));
  p.on('console', (m) => {
    /* Expected: a WebSocket that fails while the gateway is down, the 503
     * (not ready, Retry-After) a restarted gateway answers while it catches
     * up, and the 403 the read-only token provokes. Any other console error
     * (a CSP violation, a script error, a missing file) is not. */
    const expected = cfg.scenario === 'private' ?
      /WebSocket connection to .* failed|status of 401 \(Unauthorized\)|status of 503 \(Service Unavailable\)/ :
      /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|status of 403 \(Forbidden\)|status of 503 \(Service Unavailable\)/;
    if (m.type() === 'error' && !expected.test(m.text()))
      pageErrors.push(label + ' console: ' + m.text());
  });
  return p;
}

const rowSel = (key) => `#feed-body tr[data-key="${key}"]`;

async function rowKeys(p) {
  return p.$$eval('#feed-body tr.item', (trs) => trs.map((t) => t.dataset.key));
}

async function waitLive(p) {
  await p.waitForSelector('#conn[data-state="live"]', { timeout: T });
}

async function barCount(p, chart, value) {
  return Number(await p.getAttribute(`#chart-${chart} g.bar[data-value="${value}"]`, 'data-count'));
}

async function shot(p, name) {
  const file = path.join(cfg.out_dir, name + '.png');
  await p.screenshot({ path: file, fullPage: false });
  return file;
}

/* Reads are not public: the page says so, takes a read token once, then
 * loads and goes live; the token survives a reload. */
async function privateScenario(ctx) {
  const p = await newPage(ctx, 'P');
  await p.goto(cfg.url);
  await p.waitForSelector('#feed-error:not([hidden])', { timeout: T });
  check(/access token/.test(await p.textContent('#feed-error')), 'asks for a token');
  check(await p.getAttribute('#conn', 'data-state') !== 'live', 'not live without a token');
  check(await p.$eval('#token-box', (d) => d.open), 'the token box opens by itself');
  check(await p.$$eval('#feed-body tr.item', (r) => r.length) === 0, 'no rows without a token');
  await p.fill('#token-input', cfg.token);
  await p.click('#token-form button[type="submit"]');
  await waitLive(p);
  await p.waitForSelector(rowSel(cfg.key), { timeout: T });
  check(await p.isHidden('#feed-error'), 'the error is gone');
  await p.waitForFunction(() => document.getElementById('stat-total').textContent === '1', null, { timeout: T });
  step('token');
  const live = await need('live_event');
  await p.waitForSelector(rowSel(live.key), { timeout: T });
  step('live');
  await p.reload();
  await waitLive(p);
  await p.waitForSelector(rowSel(live.key), { timeout: T });
  check(await p.isHidden('#feed-error'), 'a saved token is used at once after a reload');
  await p.screenshot({ path: path.join(cfg.out_dir, 'dashboard-private.png') });
  step('reload');
}

async function main() {
  fs.mkdirSync(cfg.out_dir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dai-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let a = null;
  try {
    if (cfg.scenario === 'private') {
      await privateScenario(ctx);
      check(pageErrors.length === 0, 'no page errors: ' + pageErrors.join(' | '));
      emit({ done: true });
      return;
    }
    a = await newPage(ctx, 'A');

    /* 1. Initial snapshot: every classified item, newest first, with all
     * the columns the issue asks for, and the counts charts. */
    await a.goto(cfg.url);
    await waitLive(a);
    const init = cfg.initial; /* newest first, as the gateway orders them */
    await a.waitForFunction((n) => document.querySelectorAll('#feed-body tr.item').length === n,
      init.length, { timeout: T });
    const keys = await rowKeys(a);
    check(JSON.stringify(keys) === JSON.stringify(init.map((i) => i.key)),
      'initial order ' + JSON.stringify(keys));
    const first = init[0];
    const cells = await a.$eval(rowSel(first.key), (tr) => ({
      text: tr.innerText,
      href: tr.querySelector('a.title').href,
      source: tr.dataset.source,
    }));
    check(cells.href === first.html_url, 'title links to GitHub: ' + cells.href);
    for (const want of [first.repo, '#' + first.number, first.title, first.category_label,
      first.priority, first.effort_label, first.team, first.confidence_label, first.source]) {
      check(cells.text.includes(want), `row shows "${want}" in ${JSON.stringify(cells.text)}`);
    }
    check(/\d+ (s|min|h|d) ago/.test(cells.text), 'row shows how long ago');
    await a.waitForFunction((n) => Number(document.getElementById('stat-total').textContent) === n,
      init.length, { timeout: T });
    for (const [cat, n] of Object.entries(cfg.initial_by_category)) {
      check(await barCount(a, 'category', cat) === n, `category bar ${cat} = ${n}`);
    }
    const labelled = await a.$$eval('input, select, textarea', (els) =>
      els.filter((e) => e.type !== 'hidden' && (!e.labels || e.labels.length === 0)).map((e) => e.id));
    check(labelled.length === 0, 'every form control has a label: ' + labelled.join(','));
    step('initial', { rows: keys.length });

    /* 2. Live: an event produced now appears at the top without a reload,
     * and the chart follows. */
    const bugBefore = await barCount(a, 'category', 'bug');
    const live = await need('live_event');
    await a.waitForSelector(rowSel(live.key), { timeout: T });
    check((await rowKeys(a))[0] === live.key, 'live item is first');
    check((await a.textContent(rowSel(live.key))).includes(live.title), 'live title shown');
    await a.waitForFunction((n) => {
      const g = document.querySelector('#chart-category g.bar[data-value="bug"]');
      return g && Number(g.getAttribute('data-count')) === n;
    }, bugBefore + 1, { timeout: T });
    await shot(a, 'dashboard-live');
    step('live', { key: live.key });

    /* 3. Filters: category, then title text; the URL keeps them; live
     * updates obey them; a reload restores them. */
    await a.selectOption('#f-category', 'documentation');
    await a.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#feed-body tr.item')];
      return rows.length > 0 && rows.every((r) => r.dataset.category === 'documentation');
    }, null, { timeout: T });
    check(new URL(a.url()).searchParams.get('category') === 'documentation', 'URL has the category');
    const docKeys = await rowKeys(a);
    check(JSON.stringify(docKeys) === JSON.stringify(cfg.doc_keys), 'documentation rows ' + JSON.stringify(docKeys));
    await a.fill('#f-q', cfg.q);
    await a.waitForFunction((want) => {
      const rows = [...document.querySelectorAll('#feed-body tr.item')].map((r) => r.dataset.key);
      return JSON.stringify(rows) === JSON.stringify(want);
    }, cfg.doc_q_keys, { timeout: T });
    await a.waitForFunction((q) => new URL(location.href).searchParams.get('q') === q, cfg.q, { timeout: T });
    const filtered = await need('filtered_events');
    await a.waitForSelector(rowSel(filtered.match_key), { timeout: T });
    /* The gateway has applied the non-matching one too by now (the Python
     * side waited for it over REST); it must not have slipped in. */
    check(!(await a.$(rowSel(filtered.nomatch_key))), 'non-matching live update stays out');
    check(!(await a.$(rowSel(cfg.other_doc_key))), 'documentation item without the text stays out');
    const url = a.url();
    await a.goto(url);
    await waitLive(a);
    check(await a.inputValue('#f-category') === 'documentation', 'reload keeps the category');
    check(await a.inputValue('#f-q') === cfg.q, 'reload keeps the text');
    await a.waitForFunction((want) => {
      const rows = [...document.querySelectorAll('#feed-body tr.item')].map((r) => r.dataset.key);
      return JSON.stringify(rows) === JSON.stringify(want);
    }, [filtered.match_key].concat(cfg.doc_q_keys), { timeout: T });
    await a.selectOption('#f-state', 'closed');
    await a.waitForFunction(() => document.querySelectorAll('#feed-body tr.item').length === 0, null, { timeout: T });
    check(!(await a.isHidden('#feed-empty')), 'empty-state message shown');
    await a.click('#f-clear');
    await a.waitForFunction((n) => document.querySelectorAll('#feed-body tr.item').length === n,
      init.length + 3, { timeout: T });
    check(new URL(a.url()).search === '', 'clearing empties the URL query');
    step('filters');

    /* 4. Detail panel: history and reasoning. */
    await a.click(rowSel(cfg.history.key) + ' td.col-cat');
    await a.waitForSelector('#detail:not([hidden])', { timeout: T });
    await a.waitForFunction((r) => document.getElementById('d-reasoning').textContent === r,
      cfg.history.reasoning_latest, { timeout: T });
    const hist = await a.$$eval('#d-history li', (lis) => lis.map((l) => l.innerText));
    check(hist.length === 2, 'two history entries: ' + hist.length);
    check(hist[0].includes(cfg.history.reasoning_latest), 'newest history entry first');
    check(hist[1].includes(cfg.history.reasoning_first), 'first classification kept in history');
    check(new URL(a.url()).searchParams.get('issue') === cfg.history.ref, 'URL names the open issue');
    await shot(a, 'dashboard-detail');
    step('detail');

    /* 5. Correction: page A submits with a write token typed once; page B
     * (a second dashboard) shows the human classification. */
    const b = await newPage(ctx, 'B', { width: 1100, height: 800 });
    await b.goto(cfg.url);
    await waitLive(b);
    await b.waitForSelector(rowSel(cfg.history.key), { timeout: T });
    check(await b.getAttribute(rowSel(cfg.history.key), 'data-source') !== 'human', 'B starts automatic');
    check(await a.isVisible('#c-token'), 'token field shown while no token is saved');
    await a.fill('#c-token', cfg.token);
    await a.selectOption('#c-category', 'security');
    await a.selectOption('#c-priority', 'critical');
    await a.fill('#c-team', 'security-team');
    await a.fill('#c-note', 'confirmed by triage');
    await a.click('#c-submit');
    await a.waitForFunction(() => /applied/.test(document.getElementById('c-status').textContent), null, { timeout: T });
    await b.waitForFunction((key) => {
      const tr = document.querySelector(`#feed-body tr[data-key="${key}"]`);
      return tr && tr.dataset.source === 'human' && tr.dataset.category === 'security' &&
        tr.dataset.priority === 'critical';
    }, cfg.history.key, { timeout: T });
    check((await b.textContent(rowSel(cfg.history.key))).includes('human · ' + cfg.token_name),
      'B shows who corrected');
    check((await b.textContent(rowSel(cfg.history.key))).includes('security-team'), 'B shows the team');
    check(await a.evaluate(() => localStorage.getItem('dispatchai.token')) === cfg.token, 'token kept');
    await a.waitForFunction(() => [...document.querySelectorAll('#d-history li')].some((l) =>
      /confirmed by triage/.test(l.innerText)), null, { timeout: T });
    check(await a.isHidden('#c-token-field'), 'token not asked again once saved');
    await b.click(rowSel(cfg.history.key) + ' td.col-cat');
    await b.waitForFunction(() => /Human override/.test(document.getElementById('d-fields').innerText), null, { timeout: T });
    await shot(b, 'dashboard-corrected');
    step('correction');

    /* A token without write scope gets a clear refusal. */
    await a.evaluate((t) => localStorage.setItem('dispatchai.token', t), cfg.read_token);
    await a.reload();
    await waitLive(a);
    await a.waitForSelector('#detail:not([hidden])', { timeout: T });
    await a.waitForFunction(() => document.getElementById('d-history').children.length >= 3, null, { timeout: T });
    await a.click('#c-submit');
    await a.waitForFunction(() => /may not write/.test(document.getElementById('c-status').textContent), null, { timeout: T });
    await a.evaluate((t) => localStorage.setItem('dispatchai.token', t), cfg.token);
    step('forbidden');

    /* 6. Keyboard: rows take focus, arrows move, Enter opens, Escape closes. */
    await a.keyboard.press('Escape');
    await a.waitForSelector('#detail', { state: 'hidden', timeout: T });
    await a.focus('#feed-body tr[tabindex="0"]');
    const k0 = await a.evaluate(() => document.activeElement.dataset.key);
    await a.keyboard.press('ArrowDown');
    const k1 = await a.evaluate(() => document.activeElement.dataset.key);
    const order = await rowKeys(a);
    check(order.indexOf(k1) === order.indexOf(k0) + 1, 'ArrowDown moves to the next row');
    await a.keyboard.press('Enter');
    await a.waitForSelector('#detail:not([hidden])', { timeout: T });
    await a.waitForFunction((k) => document.querySelector('#feed-body tr.selected') &&
      document.querySelector('#feed-body tr.selected').dataset.key === k, k1, { timeout: T });
    check(await a.evaluate(() => document.activeElement.id) === 'd-title', 'focus moves to the panel');
    await a.keyboard.press('Escape');
    await a.waitForSelector('#detail', { state: 'hidden', timeout: T });
    check(await a.evaluate(() => document.activeElement.dataset.key) === k1, 'focus returns to the row');
    step('keyboard');

    /* 7. Resume: a page whose WebSocket drops while the gateway stays up
     * reconnects with ?since=<last seq> and gets what it missed from the
     * gateway's log (counted as "replayed" — no resync, no refetch). The
     * drop is made by routing the page's WebSocket through Playwright, and
     * the reconnect is held until the missed event is in the gateway. */
    const r = await newPage(ctx, 'R', { width: 1200, height: 800 });
    const wsUrls = [];
    let firstWs = null, openGate = null;
    const gate = new Promise((resolve) => { openGate = resolve; });
    await r.routeWebSocket(/\/ws(\?|$)/, async (ws) => {
      wsUrls.push(ws.url());
      if (wsUrls.length === 1) firstWs = ws;
      else if (wsUrls.length === 2) await gate;
      ws.connectToServer();
    });
    await r.goto(cfg.url);
    await waitLive(r);
    await r.waitForSelector(rowSel(cfg.history.key), { timeout: T });
    check(!/since=/.test(wsUrls[0]), 'a fresh page connects without since');
    await firstWs.close({ code: 4000, reason: 'dropped by the test' });
    await r.waitForSelector('#conn[data-state="reconnecting"]', { timeout: T });
    const away = await need('resume_event');
    openGate();
    await r.waitForSelector(rowSel(away.key), { timeout: T });
    await waitLive(r);
    check(wsUrls.length === 2 && /[?&]since=\d+/.test(wsUrls[1]), 'reconnect resumes with since: ' + wsUrls[1]);
    const resumed = await need('resume_done');
    check(resumed.replayed === 1 && resumed.resync === 0,
      'the gateway replayed from its log: ' + JSON.stringify(resumed));
    await r.close();
    step('resume');

    /* 8. Connection state: the gateway goes away (reconnecting shown), an
     * event is produced meanwhile, the gateway comes back — the page
     * resyncs (its seq is from the old process) and shows the event. */
    await need('stop_gateway');
    await a.waitForSelector('#conn[data-state="reconnecting"]', { timeout: T });
    check(/Reconnecting/.test(await a.textContent('#conn')), 'reconnecting is visible');
    await shot(a, 'dashboard-reconnecting');
    const back = await need('start_gateway');
    await waitLive(a);
    await a.waitForSelector(rowSel(back.key), { timeout: T });
    await waitLive(b);
    await b.waitForSelector(rowSel(back.key), { timeout: T });
    step('reconnect', { key: back.key });

    /* 9. Narrow screen: rows become cards, nothing overflows sideways. */
    const n = await newPage(ctx, 'narrow', { width: 390, height: 844 });
    await n.goto(cfg.url);
    await waitLive(n);
    await n.waitForSelector(rowSel(back.key), { timeout: T });
    const overflow = await n.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, 'no sideways scrolling on a narrow screen (' + overflow + ' px)');
    check(await n.isHidden('#feed thead'), 'table header hidden on narrow screens');
    await n.screenshot({ path: path.join(cfg.out_dir, 'dashboard-narrow.png'), fullPage: false });
    step('narrow');

    /* The README's picture: the wide page with the detail panel open. */
    await a.click(rowSel(cfg.history.key) + ' td.col-cat');
    await a.waitForFunction(() => document.getElementById('d-history').children.length >= 3, null, { timeout: T });
    await a.evaluate(() => window.scrollTo(0, 0));
    await a.screenshot({ path: path.join(cfg.out_dir, 'dashboard.png'), fullPage: false });

    check(pageErrors.length === 0, 'no page errors: ' + pageErrors.join(' | '));
    emit({ done: true, shots: fs.readdirSync(cfg.out_dir).filter((f) => f.endsWith('.png')) });
  } catch (e) {
    const p = a || lastPage;
    if (p) await p.screenshot({ path: path.join(cfg.out_dir, 'failure.png') }).catch(() => {});
    emit({ error: String(e && e.stack || e), page_errors: pageErrors });
    process.exitCode = 1;
  } finally {
    await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
    rl.close();
  }
}

main();
