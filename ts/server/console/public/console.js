// The StrataDB web console: vanilla JS over the HTTP API of `strata serve`. Everything shown
// is user data, so the DOM is built with createElement/textContent only (never innerHTML).
// The bearer token, when the server needs one, is asked for once and kept in sessionStorage.
'use strict';
(function () {
  const TOKEN_KEY = 'strata.token';
  const SAMPLE_MS = 2000;
  const HISTORY = 150; // samples: 5 minutes at 2 s

  const $ = (id) => document.getElementById(id);
  const state = { instances: [], defaultInstance: '', instance: '', codec: 'raw', view: 'instances' };

  // ---- DOM helpers -------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'onclick') e.addEventListener('click', v);
      else if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  function rows(tbody, list) {
    tbody.replaceChildren(...list);
  }
  function tr(...cells) {
    return el('tr', {}, ...cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c))));
  }
  function fmtBytes(n) {
    if (!Number.isFinite(n)) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return `${i === 0 ? n : n.toFixed(1)} ${u[i]}`;
  }
  function show(text, ok) {
    const m = $('message');
    m.textContent = text;
    m.className = ok ? 'ok' : '';
    m.hidden = false;
  }
  function clearMessage() {
    $('message').hidden = true;
  }

  // ---- API ---------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }
  function headers(json) {
    const h = { accept: 'application/json' };
    const t = sessionStorage.getItem(TOKEN_KEY);
    if (t) h.authorization = `Bearer ${t}`;
    if (json) h['content-type'] = 'application/json';
    return h;
  }
  async function api(method, path, body) {
    const res = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (res.status === 401) askToken();
    if (!res.ok) {
      const e = data && typeof data === 'object' && data.error ? data.error : { code: `HTTP_${res.status}`, message: String(text).slice(0, 300) };
      throw new ApiError(res.status, e.code, e.message);
    }
    return data;
  }
  function fail(e) {
    show(e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e && e.message ? e.message : e));
  }
  const scoped = (path) => `/db/${encodeURIComponent(state.instance)}${path}`;
  const q = (params) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
    const t = s.toString();
    return t ? `?${t}` : '';
  };

  /** Follows a job's NDJSON event stream, calling onEvent for each; resolves with the last job. */
  async function followJob(job, onEvent) {
    onEvent(job);
    try {
      const res = await fetch(`/jobs/${encodeURIComponent(job.id)}/events`, { headers: headers(false) });
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      let last = job;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          last = JSON.parse(line).job;
          onEvent(last);
        }
      }
      if (last.state !== 'running') return last;
    } catch {
      // fall through to polling
    }
    for (;;) {
      const j = await api('GET', `/jobs/${encodeURIComponent(job.id)}`);
      onEvent(j);
      if (j.state !== 'running') return j;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  function progressText(j) {
    const p = j.progress;
    if (j.state === 'failed') return `failed: ${j.error ? `${j.error.code}: ${j.error.message}` : ''}`;
    if (j.state === 'done') return 'done';
    return `${p.phase} ${p.done}/${p.total}${p.totalBytes ? ` (${fmtBytes(p.bytes)} of ${fmtBytes(p.totalBytes)})` : ''}`;
  }

  // ---- token -------------------------------------------------------------------------------
  function askToken() {
    $('token-form').hidden = false;
    $('token-input').focus();
  }
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token-input').value);
    $('token-input').value = '';
    $('token-form').hidden = true;
    clearMessage();
    start();
  });
  $('token-button').addEventListener('click', askToken);

  // ---- navigation --------------------------------------------------------------------------
  const loaders = {};
  function go(view) {
    state.view = view;
    for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${view}`;
    for (const b of document.querySelectorAll('#nav button')) {
      if (b.dataset.view === view) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    if (location.hash !== `#${view}`) history.replaceState(null, '', `#${view}`);
    clearMessage();
    const load = loaders[view];
    if (load) load().catch(fail);
  }
  for (const b of document.querySelectorAll('#nav button')) b.addEventListener('click', () => go(b.dataset.view));
  $('instance').addEventListener('change', () => {
    setInstance($('instance').value);
    go(state.view);
  });
  function setInstance(name) {
    state.instance = name;
    const i = state.instances.find((x) => x.name === name);
    state.codec = i ? i.codec : 'raw';
    $('index-extractor').value = JSON.stringify({ kind: state.codec === 'bson' ? 'bson_path' : 'json_path', path: '$.field' });
    resetHistory();
  }

  // ---- instances ---------------------------------------------------------------------------
  loaders.instances = async () => {
    const health = await fetch('/health').then((r) => r.json()).catch(() => ({ status: 'unreachable' }));
    $('health').textContent = health.status;
    const all = await api('GET', '/stats_all');
    rows($('instances-table').tBodies[0], state.instances.map((i) => {
      const s = all.instances[i.name] || {};
      const files = (s.levels || []).reduce((n, l) => n + l.files, 0);
      const row = tr(i.name + (i.name === state.defaultInstance ? ' (default)' : ''), i.codec, i.query ? 'yes' : 'no', i.status, s.lastSequence ?? '–', files, s.readOnlyReason ?? 'no');
      row.dataset.instance = i.name;
      return row;
    }));
  };

  // ---- dashboard ---------------------------------------------------------------------------
  const hist = { t: [], ops: [], latency: [], cache: [], compaction: [] };
  let prev = null;
  const charts = {};
  function resetHistory() {
    for (const k of Object.keys(hist)) hist[k] = [];
    prev = null;
  }
  function parseMetrics(text, instance) {
    const out = { ops: 0, latSum: 0, latCount: 0, buckets: new Map() };
    for (const line of text.split('\n')) {
      const m = /^(strata_operations_total|strata_operation_duration_seconds_(?:sum|count|bucket))\{([^}]*)\}\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
      if (labels.instance !== instance) continue;
      const v = Number(m[3]);
      if (m[1] === 'strata_operations_total') out.ops += v;
      else if (m[1].endsWith('_sum')) out.latSum += v;
      else if (m[1].endsWith('_count')) out.latCount += v;
      else out.buckets.set(labels.le, (out.buckets.get(labels.le) || 0) + v);
    }
    return out;
  }
  /** The smallest bucket bound holding 99% of the operations between two samples. */
  function p99(a, b) {
    const les = [...b.buckets.keys()].sort((x, y) => (x === '+Inf' ? 1 : y === '+Inf' ? -1 : Number(x) - Number(y)));
    const total = b.latCount - a.latCount;
    if (total <= 0) return null;
    for (const le of les) {
      if ((b.buckets.get(le) || 0) - (a.buckets.get(le) || 0) >= 0.99 * total) return le === '+Inf' ? Infinity : Number(le);
    }
    return null;
  }
  async function sample() {
    if (!state.instance) return;
    const instance = state.instance;
    const [metricsText, stats, comp] = await Promise.all([
      fetch('/metrics', { headers: headers(false) }).then((r) => (r.ok ? r.text() : Promise.reject(new ApiError(r.status, `HTTP_${r.status}`, 'cannot read /metrics')))),
      api('GET', scoped('/stats')),
      api('GET', `/admin/compaction/status${q({ instance })}`),
    ]);
    if (instance !== state.instance) return;
    const now = Date.now();
    const m = parseMetrics(metricsText, instance);
    const c = comp.instances[instance] || {};
    const cur = { now, m, hits: stats.blockCacheHits, misses: stats.blockCacheMisses, cw: stats.compactionBytesWritten };
    if (prev) {
      const dt = (now - prev.now) / 1000;
      const ops = (m.ops - prev.m.ops) / dt;
      const n = m.latCount - prev.m.latCount;
      const lat = n > 0 ? ((m.latSum - prev.m.latSum) / n) * 1000 : null;
      const lookups = cur.hits + cur.misses - prev.hits - prev.misses;
      const ratio = lookups > 0 ? (cur.hits - prev.hits) / lookups : null;
      const cmb = (cur.cw - prev.cw) / dt / 1048576;
      hist.t.push(now / 1000); hist.ops.push(ops); hist.latency.push(lat); hist.cache.push(ratio); hist.compaction.push(cmb);
      if (hist.t.length > HISTORY) for (const k of Object.keys(hist)) hist[k].shift();
      $('dash-ops').textContent = ops.toFixed(1);
      $('dash-latency').textContent = lat === null ? '–' : `${lat.toFixed(3)} ms`;
      const p = p99(prev.m, m);
      $('dash-p99').textContent = p === null ? '–' : p === Infinity ? 'over the largest bucket' : `${(p * 1000).toFixed(3)} ms`;
    }
    const all = cur.hits + cur.misses;
    const ratioNow = hist.cache.length && hist.cache[hist.cache.length - 1] !== null ? hist.cache[hist.cache.length - 1] : all > 0 ? cur.hits / all : null;
    $('dash-cache').textContent = ratioNow === null ? '–' : `${(ratioNow * 100).toFixed(1)} %`;
    $('dash-compactions').textContent = `${stats.compactions}${c.running ? ' (running)' : ''} · pending ${fmtBytes(stats.pendingCompactionBytes)}`;
    $('dash-wamp').textContent = Number(stats.writeAmplification).toFixed(2);
    $('dash-instance').textContent = instance;
    rows($('levels-table').tBodies[0], stats.levels.map((l, i) => tr(`L${i}`, l.files, fmtBytes(l.bytes))));
    prev = cur;
    $('view-dashboard').dataset.samples = String(Number($('view-dashboard').dataset.samples || 0) + 1);
    drawCharts();
  }
  function drawCharts() {
    if (typeof uPlot === 'undefined' || state.view !== 'dashboard') return;
    const spec = [['ops', 'chart-ops'], ['latency', 'chart-latency'], ['cache', 'chart-cache'], ['compaction', 'chart-compaction']];
    for (const [k, id] of spec) {
      const data = [hist.t, hist[k]];
      if (!charts[k]) {
        // eslint-disable-next-line no-undef
        charts[k] = new uPlot({ width: 420, height: 160, legend: { show: false }, series: [{}, { stroke: '#2563eb', width: 1.5, spanGaps: true }], scales: { x: { time: true, range: () => { const last = hist.t.length ? hist.t[hist.t.length - 1] : Date.now() / 1000; return [last - (HISTORY * SAMPLE_MS) / 1000, last]; } } } }, data, $(id));
      } else {
        charts[k].setData(data);
      }
    }
  }
  loaders.dashboard = async () => {
    await sample();
  };
  setInterval(() => {
    if (!needsToken) sample().catch(() => undefined);
  }, SAMPLE_MS);

  // ---- keys and values ---------------------------------------------------------------------
  const keyPages = { cursors: [''], at: 0, next: null };
  async function loadKeys() {
    const limit = Number($('keys-limit').value) || 20;
    const cursor = keyPages.cursors[keyPages.at];
    const r = await api('GET', scoped(`/keys${q({ prefix: $('keys-prefix').value, limit, cursor })}`));
    keyPages.next = r.cursor;
    rows($('keys-list'), r.items.map((k) => el('li', {}, el('button', { type: 'button', 'data-key': k, onclick: () => showValue(k).catch(fail) }, k))));
    if (r.items.length === 0) $('keys-list').append(el('li', { class: 'hint' }, 'no keys'));
    $('keys-prev').disabled = keyPages.at === 0;
    $('keys-next').disabled = r.cursor === null;
    $('keys-page').textContent = `page ${keyPages.at + 1}`;
  }
  $('keys-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    keyPages.cursors = [''];
    keyPages.at = 0;
    loadKeys().catch(fail);
  });
  $('keys-next').addEventListener('click', () => {
    if (keyPages.next === null) return;
    keyPages.cursors = keyPages.cursors.slice(0, keyPages.at + 1).concat([keyPages.next]);
    keyPages.at++;
    loadKeys().catch(fail);
  });
  $('keys-prev').addEventListener('click', () => {
    if (keyPages.at === 0) return;
    keyPages.at--;
    loadKeys().catch(fail);
  });
  function bytesOfBase64(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function base64OfBytes(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }
  const hexOf = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
  async function showValue(key) {
    const r = await api('GET', scoped(`/keys/${encodeURIComponent(key)}`));
    let bytes;
    let json;
    if (state.codec === 'raw') {
      bytes = bytesOfBase64(r.value);
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      try { json = JSON.stringify(JSON.parse(text), null, 2); } catch { json = '(not JSON)'; }
      $('value-raw-title').textContent = 'Raw bytes (as stored)';
    } else {
      json = JSON.stringify(r.value, null, 2);
      bytes = new TextEncoder().encode(JSON.stringify(r.value));
      $('value-raw-title').textContent = state.codec === 'json' ? 'Raw bytes (the stored JSON text)' : 'Raw bytes (UTF-8 of its Extended JSON form)';
    }
    $('value-key').textContent = key;
    $('value-json').textContent = json;
    $('value-hex').textContent = hexOf(bytes);
    $('value-base64').textContent = base64OfBytes(bytes);
    $('value-view').hidden = false;
  }
  loaders.keys = async () => {
    $('value-view').hidden = true;
    keyPages.cursors = [''];
    keyPages.at = 0;
    await loadKeys();
  };

  // ---- query -------------------------------------------------------------------------------
  function readQuery() {
    try {
      return JSON.parse($('query-text').value);
    } catch (e) {
      throw new Error(`the query is not JSON: ${e.message}`);
    }
  }
  $('query-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    (async () => {
      clearMessage();
      const r = await api('POST', scoped('/query'), { query: readQuery(), limit: Number($('query-limit').value) || 100 });
      $('query-plan').hidden = true;
      $('query-summary').textContent = `${r.items.length} result${r.items.length === 1 ? '' : 's'}${r.cursor ? ' (more: raise the limit)' : ''}${r.partial ? ` · partial: ${r.partial}` : ''}`;
      rows($('query-results').tBodies[0], r.items.map((it) => tr(it.key, el('td', { class: 'value' }, JSON.stringify(it.value)))));
    })().catch(fail);
  });
  $('query-explain').addEventListener('click', () => {
    (async () => {
      clearMessage();
      const plan = await api('POST', scoped('/explain'), { query: readQuery() });
      $('query-plan').textContent = JSON.stringify(plan, null, 2);
      $('query-plan').hidden = false;
    })().catch(fail);
  });
  $('query-count').addEventListener('click', () => {
    (async () => {
      clearMessage();
      const r = await api('POST', scoped('/count'), { query: readQuery() });
      $('query-summary').textContent = `count: ${r.count}`;
    })().catch(fail);
  });

  // ---- indexes -----------------------------------------------------------------------------
  const building = new Map(); // index name → text of its job's progress
  loaders.indexes = async () => {
    const inst = state.instances.find((i) => i.name === state.instance);
    if (inst && !inst.query) {
      rows($('indexes-table').tBodies[0], []);
      show(`instance ${state.instance} has query = false: it has no indexes`);
      return;
    }
    const r = await api('GET', scoped('/indexes'));
    rows($('indexes-table').tBodies[0], r.items.map((ix) => {
      const p = ix.progress;
      const bar = el('progress', { max: Math.max(1, p ? p.total : 1), value: ix.state === 'ready' ? Math.max(1, p ? p.total : 1) : p ? p.processed : 0 });
      const row = tr(
        ix.name,
        ix.definition.type,
        JSON.stringify(ix.definition.extractor),
        ix.state,
        ix.entries ?? '–',
        el('td', {}, bar, ' ', building.get(ix.name) || (p && ix.state === 'building' ? `${p.processed}/${p.total}` : '')),
        el('td', {},
          el('button', { type: 'button', 'data-action': 'rebuild', onclick: () => runIndexJob('/jobs/index-rebuild', { instance: state.instance, name: ix.name }).catch(fail) }, 'Rebuild'),
          ' ',
          el('button', { type: 'button', 'data-action': 'drop', onclick: () => dropIndex(ix.name).catch(fail) }, 'Drop')),
      );
      row.dataset.index = ix.name;
      return row;
    }));
  };
  async function runIndexJob(path, body) {
    clearMessage();
    const job = await api('POST', path, body);
    const end = await followJob(job, (j) => {
      building.set(j.target, progressText(j));
      $('index-job').textContent = `${j.kind} ${j.target}: ${progressText(j)}`;
    });
    building.delete(end.target);
    if (end.state === 'failed') show(`${end.kind} ${end.target}: ${progressText(end)}`);
    await loaders.indexes();
  }
  async function dropIndex(name) {
    if (!window.confirm(`Drop index ${name}?`)) return;
    await api('DELETE', scoped(`/indexes/${encodeURIComponent(name)}`));
    show(`dropped index ${name}`, true);
    await loaders.indexes();
  }
  $('index-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    (async () => {
      let extractor;
      try { extractor = JSON.parse($('index-extractor').value); } catch (e) { throw new Error(`the extractor is not JSON: ${e.message}`); }
      await runIndexJob('/jobs/index-create', { instance: state.instance, name: $('index-name').value, type: $('index-type').value, extractor });
    })().catch(fail);
  });

  // ---- feature flags -----------------------------------------------------------------------
  loaders.features = async () => {
    const items = [];
    let cursor = '';
    do {
      const r = await api('GET', `/features${q({ limit: 1000, cursor })}`);
      items.push(...r.items);
      cursor = r.cursor;
    } while (cursor);
    rows($('features-table').tBodies[0], items.map((f) => {
      const row = tr(f.id, f.enabled ? 'on' : 'off', f.version, f.description ?? '',
        el('td', {}, el('button', { type: 'button', 'data-action': 'toggle', onclick: () => toggle(f).catch(fail) }, f.enabled ? 'Turn off' : 'Turn on')));
      row.dataset.feature = f.id;
      return row;
    }));
  };
  async function toggle(f) {
    clearMessage();
    try {
      // Description and data are written again as read: an update replaces the whole flag.
      const body = { enabled: !f.enabled, version: f.version };
      if (f.description !== undefined) body.description = f.description;
      if (f.data !== undefined) body.data = f.data;
      const r = await api('POST', `/features/${encodeURIComponent(f.id)}`, body);
      await loaders.features();
      show(`${r.id} is ${r.enabled ? 'on' : 'off'} (version ${r.version})`, true);
    } catch (e) {
      await loaders.features().catch(() => undefined);
      if (e instanceof ApiError && e.status === 409) show(`409 ${e.code}: ${e.message}. The list is reloaded: try again.`);
      else throw e;
    }
  }
  $('feature-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    (async () => {
      clearMessage();
      const body = { enabled: $('feature-enabled').checked };
      if ($('feature-description').value) body.description = $('feature-description').value;
      await api('POST', `/features/${encodeURIComponent($('feature-id').value)}`, body);
      await loaders.features();
    })().catch(fail);
  });

  // ---- backups -----------------------------------------------------------------------------
  loaders.backups = async () => {
    $('backups-instance').textContent = state.instance;
    const r = await api('GET', `/backups${q({ instance: state.instance })}`);
    rows($('backups-table').tBodies[0], r.items.map((b) => {
      const row = tr(b.id, b.createdAt, b.sequence, b.files, fmtBytes(b.bytes));
      row.dataset.backup = String(b.id);
      return row;
    }));
  };
  $('backup-start').addEventListener('click', () => {
    (async () => {
      clearMessage();
      $('backup-start').disabled = true;
      try {
        const job = await api('POST', `/backups${q({ instance: state.instance })}`);
        const bar = $('backup-progress');
        bar.hidden = false;
        const end = await followJob(job, (j) => {
          const p = j.progress;
          bar.max = Math.max(1, p.totalBytes || p.total || 1);
          bar.value = j.state === 'done' ? bar.max : p.totalBytes ? p.bytes : p.done;
          $('backup-status').textContent = progressText(j);
        });
        if (end.state === 'done') $('backup-status').textContent = `backup ${end.result.id} done: ${end.result.files} files, ${fmtBytes(end.result.bytesWritten)} written`;
        else show(`backup: ${progressText(end)}`);
        await loaders.backups();
      } finally {
        $('backup-start').disabled = false;
      }
    })().catch(fail);
  });

  // ---- start -------------------------------------------------------------------------------
  let needsToken = false;
  async function start() {
    try {
      const r = await api('GET', '/admin/instances');
      needsToken = false;
      state.instances = r.items;
      state.defaultInstance = r.default;
      const sel = $('instance');
      const keep = state.instance || r.default;
      sel.replaceChildren(...r.items.map((i) => el('option', { value: i.name }, i.name)));
      sel.value = r.items.some((i) => i.name === keep) ? keep : r.default;
      setInstance(sel.value);
      const v = location.hash.slice(1);
      go(loaders[v] ? v : state.view);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        needsToken = true;
        show('401: this server needs a bearer token');
      } else fail(e);
    }
  }
  start();
})();
