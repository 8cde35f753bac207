// The status page's files, served from memory (actors/app/status_page.cpp). Self-contained:
// no script, style or font from elsewhere; every value is put in the page as text
// (`textContent`, `dataset`), never as HTML, since device ids and route texts come from others.

namespace outpost::app {

extern const char* const status_page_html;
extern const char* const status_page_css;
extern const char* const status_page_js;

const char* const status_page_html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outpost</title>
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
</head>
<body>
<header>
  <h1>Outpost <span id="device"></span></h1>
  <p><span id="version"></span> &middot; updated <span id="updated">never</span> <span id="stale" hidden>(not answering)</span></p>
</header>
<main>
  <section id="overview">
    <div class="tile"><span class="label">connected clients</span><span class="big" id="clients">&ndash;</span></div>
    <div class="tile"><span class="label">messages received</span><span class="big" id="received">&ndash;</span><span class="small" id="received-rate"></span></div>
    <div class="tile"><span class="label">messages delivered</span><span class="big" id="sent">&ndash;</span><span class="small" id="sent-rate"></span></div>
    <div class="tile"><span class="label">waiting in queues</span><span class="big" id="queued">&ndash;</span></div>
    <div class="tile"><span class="label">upstream</span><span class="big" id="upstream-state">&ndash;</span><span class="small" id="upstream-parent"></span></div>
    <div class="tile"><span class="label">outpostd memory</span><span class="big" id="rss">&ndash;</span></div>
  </section>
  <section>
    <h2>Modules</h2>
    <table id="modules"><thead><tr><th>module</th><th>type</th><th>state</th><th>restarts</th><th>description</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Connections</h2>
    <table id="connections"><thead><tr><th>protocol</th><th>transport</th><th>open</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Queues</h2>
    <table id="queues"><thead><tr><th>endpoint</th><th>priority</th><th>length</th><th>oldest entry</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Routes <span id="routes-status" class="small"></span></h2>
    <table id="routes"><thead><tr><th>name</th><th>route</th><th>priority</th><th>TTL</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Upstream link</h2>
    <p id="upstream"></p>
  </section>
  <section>
    <h2>Recent warnings and errors (last hour)</h2>
    <pre id="errors"></pre>
  </section>
</main>
</body>
</html>
)html";

const char* const status_page_css =
    R"css(body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2430; }
header { background: #1d2430; color: #fff; padding: 12px 24px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #b8c0cc; font-size: 13px; }
main { padding: 16px 24px; }
section { background: #fff; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
#overview { display: flex; flex-wrap: wrap; gap: 12px; background: none; box-shadow: none; padding: 0; }
.tile { background: #fff; border-radius: 6px; padding: 12px 16px; min-width: 150px; box-shadow: 0 1px 2px rgba(0,0,0,.08); display: flex; flex-direction: column; }
.label { font-size: 12px; color: #5b6472; text-transform: uppercase; letter-spacing: .04em; }
.big { font-size: 28px; font-weight: 600; }
.small { font-size: 12px; color: #5b6472; }
h2 { font-size: 16px; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e8eb; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #137333; font-weight: 600; }
.bad { color: #b3261e; font-weight: 600; }
.warn { color: #9a6700; font-weight: 600; }
pre { white-space: pre-wrap; font-size: 12px; margin: 0; max-height: 240px; overflow: auto; }
code { font-size: 12px; }
)css";

const char* const status_page_js = R"js('use strict';
// Polls status.json and /metrics every 2 s. Every value goes in as text.
const byId = (id) => document.getElementById(id);
let last = null; // {t, received, sent} of the previous poll, for the rates

function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const kv of (m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2].replace(/\\(.)/g, (x, c) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

function sum(series, name) {
  return series.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}

function row(tbody, cells, data) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(data || {})) tr.dataset[k] = String(v);
  for (const c of cells) {
    const td = document.createElement('td');
    const [text, cls] = Array.isArray(c) ? c : [c, ''];
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

function fill(id, rows) {
  const tbody = byId(id).querySelector('tbody');
  tbody.replaceChildren();
  if (rows.length === 0) row(tbody, ['none']);
  return tbody;
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// IoT Edge's default priority (a route without one): 2,000,000,000.
function prio(p) {
  return p >= 2000000000 ? 'default' : String(p);
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function setNumber(id, value, text) {
  const el = byId(id);
  el.dataset.value = String(value);
  el.textContent = text === undefined ? String(value) : text;
}

function stateClass(s) {
  return s === 'running' || s === 'connected' ? 'ok' : (s === 'failed' || s === 'disconnected' || s === 'unhealthy' ? 'bad' : 'warn');
}

function render(s, series) {
  byId('device').textContent = s.device;
  byId('version').textContent = `version ${s.version}`;
  const received = sum(series, 'edgehub_messages_received_total');
  const sent = sum(series, 'edgehub_messages_sent_total');
  setNumber('clients', sum(series, 'edgehub_connected_clients'));
  setNumber('received', received);
  setNumber('sent', sent);
  const now = Date.now();
  if (last && now > last.t) {
    const dt = (now - last.t) / 1000;
    byId('received-rate').textContent = `${((received - last.received) / dt).toFixed(1)} /s`;
    byId('sent-rate').textContent = `${((sent - last.sent) / dt).toFixed(1)} /s`;
  }
  last = { t: now, received, sent };
  setNumber('queued', s.queues.reduce((n, q) => n + q.length, 0));
  setNumber('rss', sum(series, 'process_resident_memory_bytes'), bytes(sum(series, 'process_resident_memory_bytes')));
  const up = byId('upstream-state');
  up.textContent = s.upstream.state;
  up.className = `big ${s.upstream.state === 'none' ? '' : stateClass(s.upstream.state)}`;
  byId('upstream-parent').textContent = s.upstream.parent;
  byId('upstream').textContent = s.upstream.state === 'none'
    ? 'none configured: $upstream keeps its messages'
    : `${s.upstream.state} to ${s.upstream.parent}${s.upstream.lastError ? ` (last error: ${s.upstream.lastError})` : ''}`;

  let tbody = fill('modules', s.modules);
  for (const m of s.modules) {
    row(tbody, [m.name, m.type, [m.runtimeStatus, stateClass(m.runtimeStatus)], [String(m.restartCount), 'num'], m.description],
      { module: m.name, state: m.runtimeStatus, restarts: m.restartCount });
  }
  const conns = series.filter((x) => x.name === 'outpost_connections');
  tbody = fill('connections', conns);
  for (const c of conns) {
    row(tbody, [c.labels.protocol, c.labels.transport, [String(c.value), 'num']],
      { protocol: c.labels.protocol, transport: c.labels.transport, value: c.value });
  }
  tbody = fill('queues', s.queues);
  for (const q of s.queues) {
    row(tbody, [q.endpoint, [prio(q.priority), 'num'], [String(q.length), 'num'], age(q.oldestAgeSeconds)],
      { endpoint: q.endpoint, priority: q.priority, length: q.length });
  }
  const routes = s.routes.list;
  byId('routes-status').textContent = s.routes.code === 200 ? `${routes.length} in force` : `${s.routes.code}: ${s.routes.description}`;
  byId('routes-status').className = `small ${s.routes.code === 200 ? '' : 'bad'}`;
  tbody = fill('routes', routes);
  for (const r of routes) {
    row(tbody, [r.name, r.route, [prio(r.priority), 'num'], r.ttlSecs < 0 ? 'forever' : `${r.ttlSecs} s`], { route: r.name });
  }
  byId('errors').textContent = s.errors.length ? s.errors.join('\n') : 'none';
  byId('updated').textContent = new Date(s.now).toISOString();
  byId('stale').hidden = true;
}

async function refresh() {
  try {
    const [s, m] = await Promise.all([
      fetch('status.json', { cache: 'no-store' }).then((r) => r.json()),
      fetch('metrics', { cache: 'no-store' }).then((r) => r.text()),
    ]);
    render(s, parseMetrics(m));
    document.body.dataset.loaded = 'true';
  } catch (err) {
    byId('stale').hidden = false;
  }
}

refresh();
setInterval(refresh, 2000);
)js";

} // namespace outpost::app
