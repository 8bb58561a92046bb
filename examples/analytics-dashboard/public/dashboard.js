// The dashboard page: plain browser JavaScript, no build step. Each widget is one request to one
// cached piece of the API; its footer shows how that request was served.

const number = new Intl.NumberFormat('en-US');
const fmt = (n) => number.format(n);
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const pct = (r) => `${(r * 100).toFixed(2)}%`;
const esc = (value) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const $ = (selector, root = document) => root.querySelector(selector);

const userSelect = $('#user');

function currentUser() {
  return userSelect.value || 'alice';
}

const WIDGETS = {
  summary: { url: () => '/api/summary', render: renderSummary },
  daily: { url: () => '/api/charts/daily', render: renderDaily },
  latency: { url: () => '/api/charts/latency', render: renderLatency },
  // The user is identified by a header, as an auth proxy in front of an internal tool would do;
  // the route varies its cache key on it, so each user has their own entry.
  details: { url: () => '/api/details', headers: () => ({ 'X-User': currentUser() }), render: renderDetails },
  endpoints: { url: () => '/api/sections/endpoints', render: renderEndpoints },
  errors: { url: () => '/api/sections/errors', render: renderErrors },
  hourly: { url: () => '/api/charts/hourly', render: renderHourly },
  metadata: { url: () => '/api/metadata', render: renderMetadata },
};

/** The browser's timing entry of the last request to `url`. */
function timingOf(url) {
  const entries = performance.getEntriesByName(new URL(url, location.href).href, 'resource');
  return entries[entries.length - 1];
}

/** Whether the browser revalidated its copy (304): a transfer smaller than the body it shows. */
function revalidated(entry) {
  if (!entry) return false;
  if (entry.responseStatus === 304) return true;
  return entry.transferSize > 0 && entry.encodedBodySize > 0 && entry.transferSize < entry.encodedBodySize;
}

/** The server's own time for this request, from `Server-Timing: total;dur=…` (true on hits too). */
function serverMs(entry) {
  const total = entry?.serverTiming?.find((metric) => metric.name === 'total');
  return total ? total.duration : null;
}

async function load(name) {
  const widget = WIDGETS[name];
  const section = $(`[data-widget="${name}"]`);
  section.classList.add('loading');
  const url = widget.url();
  performance.clearResourceTimings();
  const started = performance.now();
  try {
    // No cookies: the API does not need them, and a stray localhost cookie from another app would
    // make the cache treat every request as private.
    const response = await fetch(url, { headers: widget.headers?.() ?? {}, credentials: 'omit' });
    const body = await response.json();
    const fetchMs = performance.now() - started;
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    const cache = response.headers.get('x-cache') ?? 'NONE';
    const timing = timingOf(url);
    const shown = revalidated(timing) ? '304' : cache;
    const server = serverMs(timing);
    $('.body', section).innerHTML = widget.render(body.data, body);
    section.dataset.cache = shown;
    section.dataset.epoch = String(body.epoch);
    section.dataset.fetchMs = fetchMs.toFixed(1);
    section.dataset.serverMs = server === null ? '' : server.toFixed(1);
    section.dataset.computeMs = String(body.computeMs);
    const computedAt = new Date(body.computedAt);
    const age = response.headers.get('age');
    $('.cache', section).innerHTML = [
      `<span class="badge ${shown === '304' ? 'REVALIDATED' : esc(cache)}" title="X-Cache: ${esc(cache)}">${esc(shown === '304' ? `304 · ${cache}` : cache)}</span>`,
      `<span class="fetch-ms" title="measured in the browser around this request">${fetchMs.toFixed(1)} ms</span>`,
      server === null
        ? ''
        : `<span title="Server-Timing total of this request">server ${server.toFixed(1)} ms</span>`,
      `<span title="time the report took when it was computed${body.processMs ? ', after processing the log' : ''}">computed in ${body.computeMs} ms${body.processMs ? ` (+ ${body.processMs} ms processing)` : ''}</span>`,
      `<span title="${esc(body.computedAt)}">at ${computedAt.toLocaleTimeString()}${age ? ` · age ${esc(age)} s` : ''}</span>`,
      `<span>epoch ${esc(body.epoch)}</span>`,
    ].join('');
    return { name, cache: shown, fetchMs };
  } catch (error) {
    section.dataset.cache = 'ERROR';
    $('.cache', section).innerHTML = `<span class="error">${esc(error.message)}</span>`;
    return { name, cache: 'ERROR', fetchMs: performance.now() - started };
  } finally {
    section.classList.remove('loading');
  }
}

async function loadStatus() {
  const response = await fetch('/api/status', { credentials: 'omit' });
  const status = await response.json();
  for (const [key, value] of Object.entries(status)) {
    const el = $(`[data-status="${key}"]`);
    if (el) el.textContent = String(value);
  }
  if (userSelect.options.length === 0) {
    const wanted = new URLSearchParams(location.search).get('user') ?? localStorage.getItem('dashboard-user');
    userSelect.innerHTML = status.users.map((u) => `<option>${esc(u)}</option>`).join('');
    if (wanted && status.users.includes(wanted)) userSelect.value = wanted;
  }
  $('[data-user]').textContent = currentUser();
  return status;
}

let loading = null;

async function loadAll() {
  if (loading) return loading;
  loading = (async () => {
    const started = performance.now();
    await loadStatus();
    // Sequential, so that each widget's time is its own and not a share of a queue.
    const results = [];
    for (const name of Object.keys(WIDGETS)) results.push(await load(name));
    await loadStatus();
    const counts = {};
    for (const r of results) counts[r.cache] = (counts[r.cache] ?? 0) + 1;
    const summary = Object.entries(counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    $('#totals').textContent =
      `${results.length} widgets loaded in ${(performance.now() - started).toFixed(0)} ms: ${summary}`;
    await loadCachePanel();
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded ?? 0) + 1);
  })();
  try {
    await loading;
  } finally {
    loading = null;
  }
}

async function reprocess() {
  const button = $('#reprocess');
  button.disabled = true;
  $('#message').textContent = 'Reprocessing the logs…';
  try {
    const started = performance.now();
    const response = await fetch('/api/reprocess', { method: 'POST', credentials: 'omit' });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    $('#message').textContent =
      `Reprocessed in ${(performance.now() - started).toFixed(0)} ms: epoch ${body.epoch}, ` +
      `${fmt(body.rows)} log lines (${body.processMs} ms to process). Namespace "analytics" invalidated ` +
      `with one version bump (now ${body.version}): every piece on every server and device is stale at once.`;
  } catch (error) {
    $('#message').textContent = `Reprocessing failed: ${error.message}`;
  } finally {
    button.disabled = false;
  }
  await loadAll();
}

// ---- the cache panel: what /metrics says ----------------------------------------------------------

/** The samples of a Prometheus text exposition: `name{label="value",...} number`. */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

const total = (samples, name, where = () => true) =>
  samples.filter((s) => s.name === name && where(s.labels)).reduce((sum, s) => sum + s.value, 0);

async function loadCachePanel() {
  const response = await fetch('/metrics', { credentials: 'omit' });
  if (!response.ok) return;
  const samples = parseMetrics(await response.text());
  const lookups = samples.filter((s) => s.name === 'versioned_cache_lookups_total');
  const namespaces = [...new Set(lookups.map((s) => s.labels.namespace))].sort();
  const rows = namespaces.map((ns) => {
    const count = (status) =>
      total(lookups, 'versioned_cache_lookups_total', (l) => l.namespace === ns && l.status === status);
    const [hit, miss, stale, bypass] = ['hit', 'miss', 'stale', 'bypass'].map(count);
    const all = hit + miss + stale + bypass;
    return `<tr><td><code>${esc(ns)}</code></td><td>${fmt(all)}</td><td>${fmt(hit)}</td><td>${fmt(miss)}</td>
      <td>${fmt(stale)}</td><td>${fmt(bypass)}</td>
      <td data-metric="hit-ratio" data-namespace="${esc(ns)}">${all ? pct(hit / all) : '–'}</td></tr>`;
  });
  const fills = total(samples, 'versioned_cache_fill_duration_count');
  const fillSeconds = total(samples, 'versioned_cache_fill_duration_sum');
  $('#cache-panel .body').innerHTML = `
    <div class="kpis">
      ${kpi('fills', fmt(fills), 'fills')}
      ${kpi('mean fill time', fills ? `${((fillSeconds / fills) * 1000).toFixed(1)} ms` : '–', 'fill-ms')}
      ${kpi('lease waits', fmt(total(samples, 'versioned_cache_lease_waits_total')), 'lease-waits')}
      ${kpi('invalidations', fmt(total(samples, 'versioned_cache_invalidations_total')), 'invalidations')}
      ${kpi('fail-opens', fmt(total(samples, 'versioned_cache_fail_opens_total')), 'fail-opens', total(samples, 'versioned_cache_fail_opens_total') > 0)}
      ${kpi('errors', fmt(total(samples, 'versioned_cache_errors_total')), 'errors', total(samples, 'versioned_cache_errors_total') > 0)}
    </div>
    <table><tr><th>namespace</th><th>lookups</th><th>hit</th><th>miss</th><th>stale</th><th>bypass</th><th>hit ratio</th></tr>
      ${rows.join('') || '<tr><td colspan="7">no lookups yet</td></tr>'}
    </table>`;
}

// ---- rendering -------------------------------------------------------------------------------

function kpi(label, value, field, bad = false) {
  return `<div class="kpi"><div class="label">${esc(label)}</div><div class="value${bad ? ' bad' : ''}" data-field="${field}">${esc(value)}</div></div>`;
}

function renderSummary(s) {
  return `<div class="kpis">${[
    kpi('Requests', fmt(s.requests), 'requests'),
    kpi('Server errors', fmt(s.serverErrors), 'serverErrors', true),
    kpi('Error rate', pct(s.errorRate), 'errorRate', true),
    kpi('Client errors', fmt(s.clientErrors), 'clientErrors'),
    kpi('p50 latency', `${s.latencyMs.p50} ms`, 'p50'),
    kpi('p95 latency', `${s.latencyMs.p95} ms`, 'p95'),
    kpi('p99 latency', `${s.latencyMs.p99} ms`, 'p99'),
    kpi('Users', fmt(s.users), 'users'),
    kpi('Traffic', `${(s.bytes / 1e9).toFixed(2)} GB`, 'bytes'),
  ].join('')}</div>`;
}

/** A bar chart as inline SVG, with an optional line on its own scale. */
function barChart({ values, labels, line, height = 150, width = 640, titles }) {
  const left = 44;
  const right = line ? 34 : 8;
  const top = 8;
  const bottom = 20;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...values);
  const step = plotW / values.length;
  const barW = Math.max(2, step * 0.72);
  const bars = values
    .map((v, i) => {
      const h = (v / max) * plotH;
      const x = left + i * step + (step - barW) / 2;
      return `<rect class="bar" x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(titles ? titles[i] : `${labels[i]}: ${fmt(v)}`)}</title></rect>`;
    })
    .join('');
  const every = Math.ceil(labels.length / 14);
  const xLabels = labels
    .map((l, i) =>
      i % every === 0
        ? `<text x="${(left + i * step + step / 2).toFixed(1)}" y="${height - 6}" text-anchor="middle">${esc(l)}</text>`
        : '',
    )
    .join('');
  const axis = `<text x="${left - 6}" y="${top + 8}" text-anchor="end">${esc(compact.format(max))}</text><text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text><line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#ccd"/>`;
  let overlay = '';
  if (line) {
    const lineMax = Math.max(1, ...line);
    const points = line.map((v, i) => [left + i * step + step / 2, top + plotH - (v / lineMax) * plotH]);
    overlay =
      `<polyline class="errline" points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>` +
      points
        .map(([x, y]) => `<circle class="errdot" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5"/>`)
        .join('') +
      `<text x="${width - right + 4}" y="${top + 8}" fill="#d64545" style="fill:#d64545">${esc(compact.format(lineMax))}</text>`;
  }
  return `<svg viewBox="0 0 ${width} ${height}" role="img">${axis}${bars}${overlay}${xLabels}</svg>`;
}

function renderDaily(d) {
  return barChart({
    values: d.points.map((p) => p.requests),
    line: d.points.map((p) => p.serverErrors),
    labels: d.points.map((p) => p.date.slice(5)),
    titles: d.points.map(
      (p) =>
        `${p.date}: ${fmt(p.requests)} requests, ${fmt(p.serverErrors)} server errors, ${fmt(p.clientErrors)} client errors`,
    ),
    height: 170,
    width: 760,
  });
}

function renderHourly(d) {
  return barChart({
    values: d.points.map((p) => p.requests),
    line: d.points.map((p) => p.serverErrors),
    labels: d.points.map((p) => String(p.hour).padStart(2, '0')),
    titles: d.points.map(
      (p) =>
        `${String(p.hour).padStart(2, '0')}:00 UTC: ${fmt(p.requests)} requests, ${fmt(p.serverErrors)} server errors`,
    ),
    width: 380,
    height: 150,
  });
}

function renderLatency(d) {
  const labels = d.buckets.map((b) => (b.le === null ? '>5s' : b.le >= 1000 ? `${b.le / 1000}s` : `${b.le}`));
  return (
    barChart({
      values: d.buckets.map((b) => b.count),
      labels,
      titles: d.buckets.map((b, i) => `≤ ${labels[i]}: ${fmt(b.count)} requests`),
      width: 380,
      height: 150,
    }) +
    `<p class="muted">p50 <b data-field="p50">${d.p50}</b> ms · p95 <b data-field="p95">${d.p95}</b> ms · p99 <b data-field="p99">${d.p99}</b> ms</p>`
  );
}

function renderDetails(u) {
  if (!u) return '<p class="muted">No activity in this dataset.</p>';
  return `
    <div class="kpis">
      ${kpi('Requests', fmt(u.requests), 'requests')}
      ${kpi('Server errors', fmt(u.serverErrors), 'serverErrors', true)}
      ${kpi('p95 latency', `${u.latencyMs.p95} ms`, 'p95')}
    </div>
    ${barChart({
      values: u.daily.map((d) => d.requests),
      labels: u.daily.map((d) => d.date.slice(8)),
      titles: u.daily.map((d) => `${d.date}: ${fmt(d.requests)} requests, ${fmt(d.errors)} errors`),
      width: 380,
      height: 80,
    })}
    <table><tr><th>Top endpoints</th><th>requests</th><th>errors</th></tr>
      ${u.topEndpoints.map((e) => `<tr><td>${esc(e.endpoint)}</td><td>${fmt(e.requests)}</td><td>${fmt(e.errors)}</td></tr>`).join('')}
    </table>`;
}

function renderErrors(e) {
  return `
    <div class="pills">${e.byStatus.map((s) => `<span class="pill${s.status >= 500 ? ' server' : ''}">${s.status}: ${fmt(s.count)}</span>`).join('')}</div>
    <table><tr><th>Worst hours (UTC)</th><th>5xx</th><th>rate</th></tr>
      ${e.worstHours.map((h) => `<tr><td>${esc(h.hour)}</td><td>${fmt(h.serverErrors)}</td><td>${pct(h.errorRate)}</td></tr>`).join('')}
    </table>
    <table><tr><th>Top failures</th><th>status</th><th>count</th></tr>
      ${e.topFailures.map((f) => `<tr><td>${esc(f.endpoint)}</td><td>${f.status}</td><td>${fmt(f.count)}</td></tr>`).join('')}
    </table>`;
}

function renderEndpoints(d) {
  return `<table>
    <tr><th>Endpoint</th><th>requests</th><th>5xx rate</th><th>4xx</th><th>p50 ms</th><th>p95 ms</th><th>avg size</th></tr>
    ${d.endpoints
      .map(
        (e) =>
          `<tr><td>${esc(e.endpoint)}</td><td>${fmt(e.requests)}</td><td>${pct(e.errorRate)}</td><td>${fmt(e.clientErrors)}</td><td>${e.p50LatencyMs}</td><td>${e.p95LatencyMs}</td><td>${fmt(e.avgBytes)} B</td></tr>`,
      )
      .join('')}
  </table>`;
}

function renderMetadata(m) {
  return `<dl>
    <dt>Epoch</dt><dd data-field="epoch">${esc(m.epoch)}</dd>
    <dt>Seed</dt><dd>${esc(m.seed)}</dd>
    <dt>Log lines</dt><dd data-field="rows">${fmt(m.rows)}</dd>
    <dt>Log size</dt><dd>${(m.logBytes / 1e6).toFixed(1)} MB</dd>
    <dt>Checksum</dt><dd data-field="checksum"><code>${esc(m.checksum)}</code></dd>
    <dt>Window (UTC)</dt><dd>${esc(m.firstAt.slice(0, 10))} → ${esc(m.lastAt.slice(0, 10))}, ${m.days} days</dd>
    <dt>Users · endpoints</dt><dd>${m.users.length} · ${m.endpoints.length}</dd>
    <dt>Processed</dt><dd>${esc(new Date(m.processedAt).toLocaleString())} in ${fmt(m.processMs)} ms</dd>
  </dl>`;
}

// ---- wiring ----------------------------------------------------------------------------------

let timer = null;
$('#reload').addEventListener('click', () => loadAll());
$('#reprocess').addEventListener('click', () => reprocess());
userSelect.addEventListener('change', () => {
  localStorage.setItem('dashboard-user', currentUser());
  $('[data-user]').textContent = currentUser();
  load('details');
});
$('#auto').addEventListener('change', (event) => {
  clearInterval(timer);
  timer = event.target.checked ? setInterval(() => loadAll(), 5000) : null;
});
loadAll();
setInterval(() => loadCachePanel().catch(() => {}), 3000);
