// skua console: a single-page app over the broker's /api (no framework, no build step).
// Hash routes: #/  #/topics  #/topics/NAME[/messages|/configs]  #/groups  #/groups/ID
// #/share-groups  #/share-groups/ID  #/schemas  #/schemas/SUBJECT  #/acls  #/users.
// Everything shown comes from the API; text is added as text nodes (never as HTML).
'use strict';
(() => {
  const main = document.getElementById('main');
  const SVG = 'http://www.w3.org/2000/svg';
  const enc = encodeURIComponent;

  // ---- DOM ----
  function add(el, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k == null || k === false) continue;
      el.append(k instanceof Node ? k : String(k));
    }
    return el;
  }
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = true;
      else el.setAttribute(k, v === true ? '' : v);
    }
    return add(el, kids);
  }
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    return add(el, kids);
  }
  const link = (href, text) => h('a', { href }, text);

  // ---- formatting ----
  const num = (n) => (n == null ? '–' : Number(n).toLocaleString('en-US'));
  function bytes(n) {
    if (n == null) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    n = Number(n);
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(n < 10 ? 2 : 1) : String(n)) + ' ' + u[i];
  }
  const pad = (x, n = 2) => String(x).padStart(n, '0');
  function time(ms) {
    if (ms == null || ms < 0) return '–';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  const clock = (ms) => { const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; };
  function short(v) {
    if (Math.abs(v) >= 1e9) return (v / 1e9).toFixed(1) + 'G';
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (Math.abs(v) >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1);
  }

  // ---- API ----
  async function api(path, opts = {}) {
    const init = { method: opts.method || 'GET', headers: { Accept: 'application/json' } };
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    const r = await fetch('/api' + path, init);
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) {
      const e = new Error((body && body.message) || `HTTP ${r.status}`);
      e.code = body && body.error;
      e.status = r.status;
      throw e;
    }
    return body;
  }
  function errorBox(e) {
    return h('div', { class: 'alert error', role: 'alert' },
      e.code ? h('strong', null, e.code + ': ') : null, e.message.replace(/^[^:]+: [A-Z_]+: /, ''));
  }
  const okBox = (text) => h('div', { class: 'alert ok', role: 'status' }, text);

  // ---- widgets ----
  function table(cols, rows, opts = {}) {
    const head = h('tr', null, cols.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)));
    const body = h('tbody');
    if (!rows.length) body.append(h('tr', null, h('td', { colspan: cols.length, class: 'muted' }, opts.empty || 'Nothing here.')));
    for (const r of rows) {
      const tr = h('tr', { class: opts.onclick ? 'click' : null },
        cols.map((c) => h('td', { class: c.num ? 'num' : c.cls || null }, c.get(r))));
      if (opts.onclick) tr.addEventListener('click', () => opts.onclick(r, tr));
      if (opts.rowAttrs) for (const [k, v] of Object.entries(opts.rowAttrs(r))) tr.setAttribute(k, v);
      body.append(tr);
    }
    return h('div', { class: 'tablewrap' }, h('table', { id: opts.id }, h('thead', null, head), body));
  }
  const card = (k, v, opts = {}) =>
    h('div', { class: 'card' + (opts.bad ? ' bad' : ''), 'data-card': k },
      h('div', { class: 'k' }, k), h('div', { class: 'v' + (opts.small ? ' small' : '') }, v));
  function pill(state) {
    const st = String(state || '').toLowerCase();
    const cls = ['stable', 'empty'].includes(st) ? 'ok' : ['dead'].includes(st) ? 'bad' : 'warn';
    return h('span', { class: 'pill ' + cls }, state || '–');
  }
  function tabs(items, active) {
    return h('div', { class: 'tabs' }, items.map(([key, label, href]) =>
      h('a', { href, class: key === active ? 'active' : null }, label)));
  }

  // A line chart of series [{name, cls, pts: [[t, v]]}], time on x.
  function chart(title, series, fmt = short) {
    const W = 600, H = 170, L = 48, R = 8, T = 8, B = 20;
    const pts = series.flatMap((x) => x.pts);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
    const box = h('div', { class: 'chart' }, h('div', { class: 'title' }, title),
      h('div', { class: 'legend' }, series.map((x) => h('span', null, h('i', { class: x.cls }), x.name))), svg);
    if (pts.length < 2) {
      svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'collecting samples…'));
      return box;
    }
    const t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]));
    let vmax = Math.max(...pts.map((p) => p[1]), 0);
    if (vmax <= 0) vmax = 1;
    const mag = Math.pow(10, Math.floor(Math.log10(vmax)));
    vmax = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((m) => m >= vmax);
    const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - v / vmax) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = (vmax * i) / 4;
      svg.append(s('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
        s('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, fmt(v)));
    }
    svg.append(s('line', { class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0) }),
      s('text', { x: L, y: H - 4 }, clock(t0)), s('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, clock(t1)));
    for (const ser of series) {
      if (!ser.pts.length) continue;
      const d = ser.pts.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
      svg.append(s('path', { class: 'line ' + ser.cls, d }));
    }
    return box;
  }

  // ---- samplers: the broker's counters (kept while the app is open), group lag ----
  const metricSamples = [];
  const MAX_SAMPLES = 180;
  async function sampleMetrics() {
    try {
      metricSamples.push(await api('/metrics'));
      if (metricSamples.length > MAX_SAMPLES) metricSamples.shift();
    } catch (_) { /* the next sample may work */ }
  }
  // Per-second rates of a counter between consecutive samples (a restart resets counters).
  function rates(get) {
    const out = [];
    for (let i = 1; i < metricSamples.length; i++) {
      const a = metricSamples[i - 1], b = metricSamples[i];
      const dt = (b.time_ms - a.time_ms) / 1000;
      const va = get(a), vb = get(b);
      if (dt > 0 && va != null && vb != null && vb >= va) out.push([b.time_ms, (vb - va) / dt]);
    }
    return out;
  }
  // A topic's latest byte rate on this broker ('–' until two samples exist).
  function rateNow(topic, key) {
    const r = rates((m) => m.topics[topic] && m.topics[topic][key]);
    return r.length ? bytes(r[r.length - 1][1]) + '/s' : '–';
  }
  const lagSamples = new Map(); // group id -> [[t, lag]]
  function sampleLag(group, lag) {
    const pts = lagSamples.get(group) || [];
    pts.push([Date.now(), lag]);
    if (pts.length > MAX_SAMPLES) pts.shift();
    lagSamples.set(group, pts);
    return pts;
  }

  // ---- router ----
  let leave = [];
  function every(ms, fn) { const t = setInterval(fn, ms); leave.push(() => clearInterval(t)); }
  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
  async function route() {
    leave.forEach((f) => f());
    leave = [];
    const raw = location.hash.replace(/^#/, '') || '/';
    const qi = raw.indexOf('?');
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const q = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
    let parts;
    try { parts = path.split('/').filter(Boolean).map(decodeURIComponent); } catch (_) { parts = []; }
    for (const a of document.querySelectorAll('header nav a')) {
      a.classList.toggle('active', a.dataset.nav === (parts[0] || ''));
    }
    const view = h('div', { id: 'view' });
    main.replaceChildren(view);
    const [top, id, sub] = parts;
    try {
      if (!top) await overview(view);
      else if (top === 'topics' && !id) await topicList(view);
      else if (top === 'topics') await topicPage(view, id, sub || 'partitions', q);
      else if (top === 'groups' && !id) await groupList(view);
      else if (top === 'groups') await groupPage(view, id);
      else if (top === 'share-groups' && !id) await shareList(view);
      else if (top === 'share-groups') await sharePage(view, id);
      else if (top === 'schemas' && !id) await schemaList(view);
      else if (top === 'schemas') await schemaPage(view, id);
      else if (top === 'acls' && !id) await aclPage(view);
      else if (top === 'users' && !id) await userPage(view);
      else view.append(h('h1', null, 'Not found'), h('p', null, link('#/', 'Back to the overview')));
    } catch (e) {
      view.append(errorBox(e));
    }
    view.setAttribute('data-ready', '1');
  }

  // ---- overview ----
  async function overview(view) {
    const c = await api('/cluster');
    view.append(h('h1', null, 'Cluster'),
      h('div', { class: 'cards' },
        card('Cluster id', c.cluster_id, { small: true }),
        card('Controller', c.controller_id),
        card('Brokers', c.brokers.length),
        card('Topics', c.topics),
        card('Partitions', num(c.partitions)),
        card('Under-replicated', c.under_replicated_partitions, { bad: c.under_replicated_partitions > 0 }),
        card('Offline', c.offline_partitions, { bad: c.offline_partitions > 0 })),
      h('h2', null, 'Brokers'),
      table([
        { label: 'Id', get: (b) => b.id + (b.id === c.node_id ? ' (this console)' : '') },
        { label: 'Host', get: (b) => `${b.host}:${b.port}` },
        { label: 'Rack', get: (b) => b.rack || '–' },
        { label: 'Role', get: (b) => (b.controller ? 'controller' : '') },
        { label: 'Status', get: (b) => h('span', { class: 'pill ' + (b.fenced ? 'bad' : 'ok') }, b.fenced ? 'fenced' : 'live') },
        { label: 'Leader of', num: true, get: (b) => num(b.leader_partitions) },
      ], c.brokers, { id: 'brokers' }),
      h('h2', null, `Throughput of broker ${c.node_id} `, h('span', { class: 'muted' }, '(its own counters, sampled every 2 s)')));
    const charts = h('div', { class: 'charts' });
    view.append(charts);
    const draw = () => charts.replaceChildren(
      chart('Bytes per second', [
        { name: 'in (produce)', cls: 's1', pts: rates((m) => m.bytes_in) },
        { name: 'out (fetch)', cls: 's2', pts: rates((m) => m.bytes_out) }], (v) => bytes(v).replace(' ', '')),
      chart('Records produced per second', [{ name: 'records in', cls: 's3', pts: rates((m) => m.records_in) }]),
      chart('Requests per second', [{ name: 'requests', cls: 's4', pts: rates((m) => m.requests) }]));
    draw();
    every(2000, draw);
  }

  // ---- topics ----
  function parseConfigs(text) {
    const out = {};
    for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const i = line.indexOf('=');
      if (i <= 0) throw new Error(`config line "${line}" is not name=value`);
      out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    return out;
  }

  async function topicList(view) {
    const topics = await api('/topics');
    const status = h('div');
    const name = h('input', { id: 'new-topic-name', placeholder: 'orders', required: true });
    const parts = h('input', { id: 'new-topic-partitions', type: 'number', min: 1, placeholder: 'default' });
    const rf = h('input', { id: 'new-topic-rf', type: 'number', min: 1, placeholder: 'default' });
    const cfg = h('textarea', { id: 'new-topic-configs', placeholder: 'retention.ms=86400000\ncleanup.policy=compact', rows: 2 });
    const create = async (validateOnly) => {
      status.replaceChildren();
      try {
        const body = { name: name.value.trim(), configs: parseConfigs(cfg.value), validate_only: validateOnly };
        if (parts.value) body.partitions = Number(parts.value);
        if (rf.value) body.replication_factor = Number(rf.value);
        const r = await api('/topics', { method: 'POST', body });
        if (validateOnly) status.append(okBox(`Valid: ${r.name} would have ${r.partitions} partition(s), replication factor ${r.replication_factor}.`));
        else go('#/topics/' + enc(r.name));
      } catch (e) { status.append(errorBox(e)); }
    };
    const form = h('div', { class: 'panel', id: 'create-topic' },
      h('div', { class: 'row' },
        h('label', null, 'Name', name), h('label', null, 'Partitions', parts), h('label', null, 'Replication factor', rf),
        h('label', { class: 'spacer' }, 'Configs (name=value per line)', cfg),
        h('button', { onclick: () => create(true) }, 'Validate'),
        h('button', { class: 'primary', id: 'new-topic-create', onclick: () => create(false) }, 'Create topic')),
      status);
    const filter = h('input', { placeholder: 'Filter topics', id: 'topic-filter' });
    const internal = h('input', { type: 'checkbox', id: 'show-internal' });
    const listBox = h('div');
    const draw = () => {
      const f = filter.value.toLowerCase();
      const rows = topics.filter((t) => (internal.checked || !t.internal) && t.name.toLowerCase().includes(f));
      listBox.replaceChildren(table([
        { label: 'Topic', get: (t) => link('#/topics/' + enc(t.name), t.name) },
        { label: 'Partitions', num: true, get: (t) => t.partitions },
        { label: 'Replication', num: true, get: (t) => t.replication_factor },
        { label: 'Messages', num: true, get: (t) => num(t.messages) },
        { label: 'Size', num: true, get: (t) => bytes(t.size_bytes) },
        { label: 'In/s', num: true, get: (t) => rateNow(t.name, 'bytes_in') },
        { label: 'Out/s', num: true, get: (t) => rateNow(t.name, 'bytes_out') },
        { label: 'Under-replicated', num: true, get: (t) => t.under_replicated_partitions },
      ], rows, { id: 'topics', empty: 'No topics yet.' }));
    };
    filter.addEventListener('input', draw);
    internal.addEventListener('change', draw);
    draw();
    every(2000, draw);
    view.append(h('div', { class: 'row' }, h('h1', null, 'Topics'), h('span', { class: 'spacer' })),
      h('h2', null, 'Create a topic'), form,
      h('div', { class: 'row' }, filter, h('label', { class: 'inline' }, internal, 'internal topics')),
      h('p'), listBox);
  }

  async function topicPage(view, name, tab, q) {
    const t = await api('/topics/' + enc(name));
    const base = '#/topics/' + enc(name);
    const del = h('div', { class: 'hidden row', id: 'delete-box' });
    const confirmIn = h('input', { id: 'delete-confirm', placeholder: 'type the topic name' });
    const delBtn = h('button', { class: 'danger primary', id: 'delete-go', disabled: true }, 'Delete for good');
    const delStatus = h('div');
    confirmIn.addEventListener('input', () => { delBtn.disabled = confirmIn.value !== name; });
    delBtn.addEventListener('click', async () => {
      try { await api('/topics/' + enc(name), { method: 'DELETE' }); go('#/topics'); } catch (e) { delStatus.replaceChildren(errorBox(e)); }
    });
    add(del, [confirmIn, delBtn]);
    view.append(h('div', { class: 'crumbs' }, link('#/topics', 'Topics'), ' /'),
      h('div', { class: 'row' }, h('h1', null, name), t.internal ? h('span', { class: 'pill' }, 'internal') : null,
        h('span', { class: 'spacer' }),
        h('button', { class: 'danger', onclick: () => del.classList.toggle('hidden') }, 'Delete topic…')),
      del, delStatus,
      h('div', { class: 'cards' }, card('Partitions', t.partitions.length), card('Messages', num(t.messages)),
        card('Size', bytes(t.size_bytes)), card('Topic id', t.topic_id, { small: true })),
      tabs([['partitions', 'Partitions', base], ['messages', 'Messages', base + '/messages'], ['configs', 'Configs', base + '/configs']], tab));
    if (tab === 'messages') return messagesTab(view, t, q);
    if (tab === 'configs') return configsTab(view, name);
    view.append(table([
      { label: 'Partition', num: true, get: (p) => p.partition },
      { label: 'Log start', num: true, get: (p) => num(p.log_start_offset) },
      { label: 'Log end', num: true, get: (p) => num(p.log_end_offset) },
      { label: 'Messages', num: true, get: (p) => num(p.messages) },
      { label: 'Size', num: true, get: (p) => bytes(p.size_bytes) },
      { label: 'Leader', num: true, get: (p) => (p.leader < 0 ? h('span', { class: 'pill bad' }, 'offline') : p.leader) },
      { label: 'Replicas', get: (p) => p.replicas.join(', ') },
      { label: 'ISR', get: (p) => h('span', { class: p.isr.length < p.replicas.length ? 'pill warn' : null }, p.isr.join(', ')) },
    ], t.partitions, { id: 'partitions' }));
    const charts = h('div', { class: 'charts' });
    view.append(h('h2', null, 'Traffic on this broker'), charts);
    const draw = () => charts.replaceChildren(chart('Bytes per second', [
      { name: 'in', cls: 's1', pts: rates((m) => m.topics[name] && m.topics[name].bytes_in) },
      { name: 'out', cls: 's2', pts: rates((m) => m.topics[name] && m.topics[name].bytes_out) }], (v) => bytes(v).replace(' ', '')));
    draw();
    every(2000, draw);
  }

  function hexdump(hex) {
    const lines = [];
    for (let i = 0; i < hex.length; i += 32) lines.push(hex.slice(i, i + 32).replace(/(..)(?!$)/g, '$1 '));
    return lines.join('\n');
  }
  function preview(d) {
    if (d == null) return h('span', { class: 'muted' }, 'null');
    let text;
    if (d.encoding === 'json') text = d.text.replace(/\s*\n\s*/g, ' ');
    else if (d.encoding === 'text') text = d.text;
    else if (d.encoding === 'schema') text = `[schema ${d.schema_id}] ` + (d.decoded !== undefined ? JSON.stringify(d.decoded) : d.hex);
    else text = '0x' + d.hex;
    return text.length > 200 ? text.slice(0, 200) + '…' : text;
  }
  function fullView(d) {
    if (d == null) return h('span', { class: 'muted' }, 'null');
    const cut = d.truncated ? `\n… (${bytes(d.size)} in all; the first ${bytes(8192)} shown)` : '';
    let label = `${d.encoding} · ${bytes(d.size)}`;
    let body;
    if (d.encoding === 'json') body = d.pretty;
    else if (d.encoding === 'text') body = d.text + cut;
    else if (d.encoding === 'hex') body = hexdump(d.hex) + cut;
    else {
      label = `${d.schema_type} · schema id ${d.schema_id} · ${d.subject} v${d.version} · ${bytes(d.size)}`;
      body = d.decoded !== undefined ? JSON.stringify(d.decoded, null, 2) : hexdump(d.hex || '') + cut;
    }
    if (d.note) label += ` · ${d.note}`;
    return [h('div', { class: 'enc' }, label), h('pre', null, body),
      d.decode_error ? h('div', { class: 'alert warn' }, 'Not decoded: ' + d.decode_error) : null];
  }

  async function messagesTab(view, t, q) {
    const base = '#/topics/' + enc(t.name) + '/messages';
    const sel = (id, opts, val) => h('select', { id }, opts.map(([v, l]) => h('option', { value: v, selected: String(v) === String(val) || null }, l)));
    const partition = sel('msg-partition', [['', 'All'], ...t.partitions.map((p) => [p.partition, String(p.partition)])], q.get('partition') || '');
    const from = sel('msg-from', [['newest', 'Newest first'], ['oldest', 'Oldest'], ['offset', 'From offset'], ['timestamp', 'From time']], q.get('from') || 'newest');
    const offset = h('input', { id: 'msg-offset', type: 'number', min: 0, value: q.get('offset') || '', placeholder: 'offset' });
    const ts = h('input', { id: 'msg-time', value: q.get('timestamp') ? time(Number(q.get('timestamp'))) : '', placeholder: 'YYYY-MM-DD HH:MM:SS or ms' });
    const limit = h('input', { id: 'msg-limit', type: 'number', min: 1, max: 200, value: q.get('limit') || '50' });
    const format = sel('msg-format', [['auto', 'Auto'], ['text', 'Text'], ['json', 'JSON'], ['hex', 'Hex']], q.get('format') || 'auto');
    const search = h('input', { id: 'msg-search', value: q.get('search') || '', placeholder: 'key or value contains…' });
    const scanMb = h('input', { id: 'msg-scan', type: 'number', min: 1, max: 256, value: q.get('max_scan_bytes') ? Number(q.get('max_scan_bytes')) / 1048576 : '16' });
    const formStatus = h('div');
    const load = (extra = {}) => {
      const p = new URLSearchParams();
      if (partition.value !== '') p.set('partition', partition.value);
      p.set('from', from.value);
      if (from.value === 'offset') p.set('offset', offset.value || '0');
      if (from.value === 'timestamp') {
        const v = ts.value.trim();
        const ms = /^\d+$/.test(v) ? Number(v) : new Date(v.replace(' ', 'T')).getTime();
        if (!Number.isFinite(ms)) { formStatus.replaceChildren(errorBox(new Error('the time is not a date'))); return; }
        p.set('timestamp', String(ms));
      }
      p.set('limit', limit.value || '50');
      if (format.value !== 'auto') p.set('format', format.value);
      if (search.value) { p.set('search', search.value); p.set('max_scan_bytes', String(Math.round(Number(scanMb.value || 16) * 1048576))); }
      for (const [k, v] of Object.entries(extra)) p.set(k, v);
      go(base + '?' + p.toString());
    };
    view.append(h('div', { class: 'panel' }, h('div', { class: 'row' },
      h('label', null, 'Partition', partition), h('label', null, 'Start', from), h('label', null, 'Offset', offset),
      h('label', null, 'Time', ts), h('label', null, 'Limit', limit), h('label', null, 'Show as', format),
      h('label', null, 'Search', search), h('label', null, 'Scan at most (MiB)', scanMb),
      h('button', { class: 'primary', id: 'msg-load', onclick: () => load() }, 'Load')), formStatus));
    const api_q = new URLSearchParams(q);
    const r = await api(`/topics/${enc(t.name)}/messages?${api_q.toString()}`);
    const sc = r.scan;
    const summary = [`${r.messages.length} message(s)`];
    if (r.search != null) {
      summary.push(`matching "${r.search}"; scanned ${bytes(sc.bytes)} of at most ${bytes(sc.max_bytes)}`);
      if (!sc.complete && !sc.limit_reached) summary.push('— stopped at the scan limit, not at the end: raise it or narrow the start');
      else if (sc.complete) summary.push('— reached the end');
    }
    const errs = r.partitions.filter((p) => p.error).map((p) => `partition ${p.partition}: ${p.error}`);
    add(view, [h('p', { id: 'msg-summary', class: 'muted' }, summary.join(' ')),
      errs.length ? h('div', { class: 'alert warn' }, 'Not read: ' + errs.join('; ')) : null]);
    const cols = 7;
    view.append(table([
      { label: 'Partition', num: true, get: (m) => m.partition },
      { label: 'Offset', num: true, get: (m) => m.offset },
      { label: 'Timestamp', get: (m) => time(m.timestamp) },
      { label: 'Key', cls: 'cell', get: (m) => preview(m.key) },
      { label: 'Value', cls: 'cell', get: (m) => preview(m.value) },
      { label: 'Headers', num: true, get: (m) => m.headers_total },
      { label: 'Size', num: true, get: (m) => bytes((m.key ? m.key.size : 0) + (m.value ? m.value.size : 0)) },
    ], r.messages, {
      id: 'messages',
      empty: 'No messages here.',
      rowAttrs: (m) => ({ 'data-offset': m.offset, 'data-partition': m.partition }),
      onclick: (m, tr) => {
        if (tr.nextSibling && tr.nextSibling.classList.contains('detail')) { tr.nextSibling.remove(); return; }
        const hdrs = m.headers.map((x) => h('div', null, h('strong', null, x.key), fullView(x.value)));
        tr.after(h('tr', { class: 'detail' }, h('td', { colspan: cols },
          h('dl', { class: 'kv' }, h('dt', null, 'Partition / offset'), h('dd', null, `${m.partition} / ${m.offset}`),
            h('dt', null, 'Timestamp'), h('dd', null, `${time(m.timestamp)} (${m.timestamp_type}, ${m.timestamp})`),
            m.transactional ? [h('dt', null, 'Transactional'), h('dd', null, 'yes')] : null),
          h('h2', null, 'Key'), fullView(m.key), h('h2', null, 'Value'), fullView(m.value),
          m.headers.length ? [h('h2', null, 'Headers'), hdrs] : null)));
      },
    }));
    // Paging within one partition.
    if (r.partitions.length === 1 && r.messages.length) {
      const p = r.partitions[0];
      const offs = r.messages.map((m) => m.offset);
      const lim = Number(limit.value || 50);
      const pager = h('div', { class: 'row' });
      const older = Math.min(...offs) - lim;
      if (Math.min(...offs) > p.log_start_offset) {
        pager.append(h('button', { onclick: () => { from.value = 'offset'; load({ offset: String(Math.max(p.log_start_offset, older)) }); } }, '← Older'));
      }
      if (p.next_offset < p.log_end_offset) {
        pager.append(h('button', { onclick: () => { from.value = 'offset'; load({ offset: String(p.next_offset) }); } }, 'Newer →'));
      }
      view.append(h('p'), pager);
    }
  }

  async function configsTab(view, name) {
    const status = h('div', { id: 'config-status' });
    const onlySet = h('input', { type: 'checkbox', id: 'config-overridden' });
    const box = h('div');
    view.append(h('div', { class: 'row' }, h('label', { class: 'inline' }, onlySet, 'only values set on this topic')), status, box);
    let configs = await api(`/topics/${enc(name)}/configs`);
    // The outcome shows at the top and in the edited row (which may be far down the list).
    const inRow = (config, el) => {
      const input = box.querySelector(`[data-config="${CSS.escape(config)}"]`);
      if (!input) return;
      input.closest('tr').lastChild.append(el);
      el.scrollIntoView({ block: 'nearest' });
    };
    const change = async (body, config, what) => {
      status.replaceChildren();
      for (const m of box.querySelectorAll('.rowmsg')) m.remove();
      try {
        const r = await api(`/topics/${enc(name)}/configs`, { method: 'PUT', body });
        configs = r.configs;
        draw();
        status.append(okBox(what));
        inRow(config, h('div', { class: 'rowmsg ok' }, 'saved'));
      } catch (e) {
        status.append(errorBox(e));
        const msg = errorBox(e);
        msg.classList.add('rowmsg');
        inRow(config, msg);
      }
    };
    const draw = () => box.replaceChildren(table([
      { label: 'Name', get: (c) => h('span', { title: c.doc || '' }, c.name) },
      { label: 'Value', get: (c) => (c.read_only ? h('code', null, c.value == null ? '–' : c.value)
        : h('input', { value: c.value == null ? '' : c.value, 'data-config': c.name, size: 28 })) },
      { label: 'Source', get: (c) => h('span', { class: 'pill' + (c.source === 'DYNAMIC_TOPIC_CONFIG' ? ' ok' : '') }, c.source) },
      { label: '', get: (c) => (c.read_only ? h('span', { class: 'muted' }, 'read-only') : [
        h('button', { 'data-save': c.name, onclick: (ev) => {
          const v = ev.target.closest('tr').querySelector('input').value;
          change({ set: { [c.name]: v } }, c.name, `${c.name} set to ${v}`);
        } }, 'Save'), ' ',
        c.source === 'DYNAMIC_TOPIC_CONFIG' ? h('button', { onclick: () => change({ delete: [c.name] }, c.name, `${c.name} reset to its default`) }, 'Reset') : null]) },
    ], configs.filter((c) => !onlySet.checked || c.source === 'DYNAMIC_TOPIC_CONFIG'), { id: 'configs' }));
    onlySet.addEventListener('change', draw);
    draw();
  }

  // ---- consumer groups ----
  async function groupList(view) {
    const groups = await api('/groups');
    view.append(h('h1', null, 'Consumer groups'), table([
      { label: 'Group', get: (g) => link('#/groups/' + enc(g.group_id), g.group_id) },
      { label: 'Type', get: (g) => g.type },
      { label: 'State', get: (g) => pill(g.state) },
      { label: 'Members', num: true, get: (g) => num(g.members) },
      { label: 'Partitions', num: true, get: (g) => g.partitions },
      { label: 'Lag', num: true, get: (g) => (g.error ? h('span', { class: 'pill bad' }, g.error) : num(g.lag)) },
    ], groups, { id: 'groups', empty: 'No consumer groups on this broker.' }));
  }

  async function groupPage(view, id) {
    const head = h('div'), chartBox = h('div', { class: 'charts' }), body = h('div');
    view.append(h('div', { class: 'crumbs' }, link('#/groups', 'Consumer groups'), ' /'), h('h1', null, id), head, chartBox, body);
    let topics = [];
    const refresh = async () => {
      let g;
      try { g = await api('/groups/' + enc(id)); } catch (e) { head.replaceChildren(errorBox(e)); return null; }
      const pts = sampleLag(id, g.lag);
      head.replaceChildren(h('div', { class: 'cards' }, card('State', pill(g.state)), card('Type', g.type),
        card('Protocol', g.protocol || '–'), card('Members', g.members.length), card('Total lag', num(g.lag))));
      chartBox.replaceChildren(chart('Total lag (sampled every 3 s while this page is open)', [{ name: 'lag', cls: 's2', pts }]));
      const own = (m) => (m.assignment || []).map((a) => `${a.topic} [${a.partitions.join(', ')}]`).join('; ') || '–';
      body.replaceChildren(
        h('h2', null, 'Members'),
        table([
          { label: 'Member', cls: 'mono', get: (m) => m.member_id },
          { label: 'Client', get: (m) => m.client_id },
          { label: 'Host', get: (m) => m.client_host },
          { label: 'Assignment', get: own },
        ], g.members, { id: 'members', empty: 'No members: the group is empty.' }),
        h('h2', null, 'Offsets'),
        table([
          { label: 'Topic', get: (o) => link('#/topics/' + enc(o.topic), o.topic) },
          { label: 'Partition', num: true, get: (o) => o.partition },
          { label: 'Committed', num: true, get: (o) => num(o.committed_offset) },
          { label: 'Log end', num: true, get: (o) => num(o.log_end_offset) },
          { label: 'Lag', num: true, get: (o) => num(o.lag) },
          { label: 'Member', cls: 'mono', get: (o) => o.member_id || '–' },
        ], g.offsets, { id: 'offsets', empty: 'No committed offsets.' }));
      return g;
    };
    const g = await refresh();
    every(3000, refresh);
    try { topics = (await api('/topics')).filter((t) => !t.internal).map((t) => t.name); } catch (_) { topics = []; }
    const mine = [...new Set(((g && g.offsets) || []).map((o) => o.topic))];
    const choices = [...mine, ...topics.filter((t) => !mine.includes(t))];
    const topic = h('select', { id: 'reset-topic' }, choices.map((t) => h('option', { value: t }, t)));
    const to = h('select', { id: 'reset-to' }, [['earliest', 'Earliest'], ['latest', 'Latest'], ['offset', 'Offset'], ['timestamp', 'Time']]
      .map(([v, l]) => h('option', { value: v }, l)));
    const value = h('input', { id: 'reset-value', placeholder: 'offset, or YYYY-MM-DD HH:MM:SS' });
    const result = h('div', { id: 'reset-result' });
    const apply = h('button', { class: 'danger primary hidden', id: 'reset-apply' }, 'Apply these offsets');
    let planned = null;
    const request = () => {
      const b = { topic: topic.value, to: to.value };
      const v = value.value.trim();
      if (to.value === 'offset') b.offset = Number(v);
      if (to.value === 'timestamp') b.timestamp = /^\d+$/.test(v) ? Number(v) : new Date(v.replace(' ', 'T')).getTime();
      return b;
    };
    const show = (r) => table([
      { label: 'Partition', num: true, get: (o) => o.partition },
      { label: 'Current', num: true, get: (o) => num(o.current_offset) },
      { label: 'New', num: true, get: (o) => h('strong', null, num(o.new_offset)) },
      { label: 'Log start', num: true, get: (o) => num(o.log_start_offset) },
      { label: 'Log end', num: true, get: (o) => num(o.log_end_offset) },
      { label: 'Lag after', num: true, get: (o) => num(o.lag_after) },
    ], r.offsets, { id: 'reset-plan' });
    const preview = async () => {
      result.replaceChildren();
      apply.classList.add('hidden');
      try {
        planned = request();
        const r = await api(`/groups/${enc(id)}/reset`, { method: 'POST', body: { ...planned, dry_run: true } });
        add(result, [h('div', { class: 'alert warn' }, `Dry run: nothing committed yet. New offsets of ${r.topic}:`),
          r.warning ? h('div', { class: 'alert error' }, r.warning) : null, show(r)]);
        apply.classList.remove('hidden');
      } catch (e) { result.append(errorBox(e)); }
    };
    apply.addEventListener('click', async () => {
      apply.classList.add('hidden');
      try {
        const r = await api(`/groups/${enc(id)}/reset`, { method: 'POST', body: { ...planned, dry_run: false } });
        result.replaceChildren(okBox(`Committed: the offsets of ${r.topic} are reset.`), show(r));
        await refresh();
      } catch (e) { result.append(errorBox(e)); }
    });
    view.append(h('h2', null, 'Reset offsets'), h('div', { class: 'panel' },
      h('p', { class: 'muted' }, 'Kafka accepts a reset only while the group has no members. Preview first; nothing is committed until you apply.'),
      h('div', { class: 'row' }, h('label', null, 'Topic', topic), h('label', null, 'To', to), h('label', null, 'Offset or time', value),
        h('button', { class: 'primary', id: 'reset-preview', onclick: preview }, 'Preview (dry run)'), apply), result));
  }

  // ---- share groups ----
  async function shareList(view) {
    const groups = await api('/share-groups');
    view.append(h('h1', null, 'Share groups'), table([
      { label: 'Group', get: (g) => link('#/share-groups/' + enc(g.group_id), g.group_id) },
      { label: 'State', get: (g) => pill(g.state) },
      { label: 'Members', num: true, get: (g) => num(g.members) },
    ], groups, { id: 'share-groups', empty: 'No share groups on this broker.' }));
  }

  async function sharePage(view, id) {
    const g = await api('/share-groups/' + enc(id));
    view.append(h('div', { class: 'crumbs' }, link('#/share-groups', 'Share groups'), ' /'), h('h1', null, id),
      h('div', { class: 'cards' }, card('State', pill(g.state)), card('Group epoch', g.group_epoch),
        card('Assignor', g.assignor || '–'), card('Members', g.members.length)),
      h('h2', null, 'Members'),
      table([
        { label: 'Member', cls: 'mono', get: (m) => m.member_id },
        { label: 'Client', get: (m) => m.client_id },
        { label: 'Host', get: (m) => m.client_host },
        { label: 'Subscribed', get: (m) => m.subscribed_topics.join(', ') },
        { label: 'Assignment', get: (m) => m.assignment.map((a) => `${a.topic} [${a.partitions.join(', ')}]`).join('; ') || '–' },
      ], g.members, { empty: 'No members.' }),
      h('h2', null, 'Share-partitions'),
      table([
        { label: 'Topic', get: (o) => link('#/topics/' + enc(o.topic), o.topic) },
        { label: 'Partition', num: true, get: (o) => o.partition },
        { label: 'Start offset', num: true, get: (o) => num(o.start_offset) },
        { label: 'Log end', num: true, get: (o) => num(o.log_end_offset) },
        { label: 'Records past start', num: true, get: (o) => (o.error ? o.error : num(o.lag)) },
      ], g.offsets, { empty: 'No share-partition state yet.' }));
  }

  // ---- schemas ----
  async function schemaList(view) {
    const r = await api('/schemas');
    view.append(h('h1', null, 'Schemas'),
      h('p', { class: 'muted' }, `Registry compatibility ${r.compatibility}, mode ${r.mode}.`),
      table([
        { label: 'Subject', get: (x) => link('#/schemas/' + enc(x.subject), x.subject) },
        { label: 'Type', get: (x) => x.schema_type || '–' },
        { label: 'Versions', num: true, get: (x) => x.versions },
        { label: 'Latest', num: true, get: (x) => x.latest_version ?? '–' },
        { label: 'Id', num: true, get: (x) => x.latest_id ?? '–' },
        { label: 'Compatibility', get: (x) => x.compatibility },
        { label: '', get: (x) => (x.deleted ? h('span', { class: 'pill bad' }, 'deleted') : '') },
      ], r.subjects, { id: 'subjects', empty: 'No subjects in the registry.' }));
  }

  async function schemaPage(view, subject) {
    const r = await api('/schemas/' + enc(subject));
    view.append(h('div', { class: 'crumbs' }, link('#/schemas', 'Schemas'), ' /'), h('h1', null, subject),
      h('p', { class: 'muted' }, `Compatibility ${r.compatibility}, mode ${r.mode}.`));
    for (const v of r.versions) {
      let text = v.schema;
      try { text = JSON.stringify(JSON.parse(v.schema), null, 2); } catch (_) { /* not JSON: Protobuf */ }
      view.append(h('div', { class: 'panel' },
        h('div', { class: 'row' }, h('strong', null, `Version ${v.version}`), h('span', { class: 'muted' }, `id ${v.id} · ${v.schema_type}`),
          v.deleted ? h('span', { class: 'pill bad' }, 'deleted') : null),
        v.references.length ? h('p', { class: 'muted' }, 'References: ' + v.references.map((x) => `${x.name} → ${x.subject} v${x.version}`).join(', ')) : null,
        h('pre', null, text)));
    }
  }

  // ---- ACLs ----
  const select = (id, values, value) => h('select', { id }, values.map((v) => h('option', { value: v, selected: v === value }, v)));
  async function aclPage(view) {
    const r = await api('/acls');
    view.append(h('h1', null, 'ACLs'));
    if (!r.enabled) {
      view.append(h('div', { class: 'alert warn', id: 'acls-off' },
        'ACLs are off: this broker has no authorizer. Set authorizer.class.name (e.g. ',
        h('code', null, '--set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer'),
        ') to enable them.'));
      return;
    }
    const status = h('div');
    const rtype = select('new-acl-type', ['TOPIC', 'GROUP', 'CLUSTER', 'TRANSACTIONAL_ID', 'DELEGATION_TOKEN'], 'TOPIC');
    const rname = h('input', { id: 'new-acl-name', placeholder: 'orders (kafka-cluster for CLUSTER)' });
    const pattern = select('new-acl-pattern', ['LITERAL', 'PREFIXED'], 'LITERAL');
    const principal = h('input', { id: 'new-acl-principal', placeholder: 'User:alice' });
    const host = h('input', { id: 'new-acl-host', value: '*' });
    const op = select('new-acl-operation', ['ALL', 'READ', 'WRITE', 'CREATE', 'DELETE', 'ALTER', 'DESCRIBE', 'CLUSTER_ACTION',
      'DESCRIBE_CONFIGS', 'ALTER_CONFIGS', 'IDEMPOTENT_WRITE', 'CREATE_TOKENS', 'DESCRIBE_TOKENS'], 'READ');
    const perm = select('new-acl-permission', ['ALLOW', 'DENY'], 'ALLOW');
    rtype.addEventListener('change', () => { if (rtype.value === 'CLUSTER' && !rname.value) rname.value = 'kafka-cluster'; });
    const create = async () => {
      status.replaceChildren();
      try {
        await api('/acls', { method: 'POST', body: { resource_type: rtype.value, resource_name: rname.value.trim(),
          pattern_type: pattern.value, principal: principal.value.trim(), host: host.value.trim() || '*',
          operation: op.value, permission: perm.value } });
        go('#/acls');
      } catch (e) { status.append(errorBox(e)); }
    };
    const remove = async (a, btn) => {
      if (!confirm(`Delete ${a.permission} ${a.operation} on ${a.resource_type} ${a.resource_name} for ${a.principal}?`)) return;
      btn.disabled = true;
      status.replaceChildren();
      try { await api('/acls/delete', { method: 'POST', body: a }); go('#/acls'); } catch (e) { btn.disabled = false; status.append(errorBox(e)); }
    };
    view.append(h('h2', null, 'Add a binding'),
      h('div', { class: 'panel', id: 'create-acl' },
        h('div', { class: 'row' },
          h('label', null, 'Resource type', rtype), h('label', null, 'Resource name', rname), h('label', null, 'Pattern', pattern),
          h('label', null, 'Principal', principal), h('label', null, 'Host', host), h('label', null, 'Operation', op),
          h('label', null, 'Permission', perm),
          h('button', { class: 'primary', id: 'new-acl-create', onclick: create }, 'Add ACL')),
        status),
      h('h2', null, 'Bindings'),
      table([
        { label: 'Resource', get: (a) => a.resource_type },
        { label: 'Name', cls: 'mono', get: (a) => a.resource_name },
        { label: 'Pattern', get: (a) => a.pattern_type },
        { label: 'Principal', cls: 'mono', get: (a) => a.principal },
        { label: 'Host', cls: 'mono', get: (a) => a.host },
        { label: 'Operation', get: (a) => a.operation },
        { label: 'Permission', get: (a) => h('span', { class: 'pill ' + (a.permission === 'ALLOW' ? 'ok' : 'bad') }, a.permission) },
        { label: '', get: (a) => h('button', { class: 'danger', onclick: (ev) => remove(a, ev.currentTarget) }, 'Delete') },
      ], r.acls, { id: 'acls', empty: 'No ACLs yet.' }));
  }

  // ---- users ----
  async function userPage(view) {
    const users = await api('/users');
    const status = h('div');
    const name = h('input', { id: 'new-user-name', placeholder: 'alice', autocomplete: 'off' });
    const mech = select('new-user-mechanism', ['SCRAM-SHA-256', 'SCRAM-SHA-512'], 'SCRAM-SHA-256');
    const pw = h('input', { id: 'new-user-password', type: 'password', autocomplete: 'new-password' });
    const iters = h('input', { id: 'new-user-iterations', type: 'number', min: 4096, max: 16384, placeholder: '4096' });
    const save = async () => {
      status.replaceChildren();
      try {
        const body = { user: name.value.trim(), mechanism: mech.value, password: pw.value };
        if (iters.value) body.iterations = Number(iters.value);
        await api('/users', { method: 'POST', body });
        pw.value = '';
        go('#/users');
      } catch (e) { status.append(errorBox(e)); }
    };
    const remove = async (u, c, btn) => {
      if (!confirm(`Delete the ${c.mechanism} credential of ${u.user}?`)) return;
      btn.disabled = true;
      status.replaceChildren();
      try { await api('/users/' + enc(u.user) + '?mechanism=' + enc(c.mechanism), { method: 'DELETE' }); go('#/users'); } catch (e) { btn.disabled = false; status.append(errorBox(e)); }
    };
    const rows = users.flatMap((u) => u.credentials.map((c) => ({ u, c })));
    view.append(h('h1', null, 'Users'),
      h('p', { class: 'muted' }, 'SCRAM credentials. The console salts the password before it reaches the broker; it is never stored or shown. Saving an existing user and mechanism replaces its password.'),
      h('h2', null, 'Add or update a user'),
      h('div', { class: 'panel', id: 'create-user' },
        h('div', { class: 'row' },
          h('label', null, 'User', name), h('label', null, 'Mechanism', mech), h('label', null, 'Password', pw),
          h('label', null, 'Iterations', iters),
          h('button', { class: 'primary', id: 'new-user-save', onclick: save }, 'Save user')),
        status),
      h('h2', null, 'Credentials'),
      table([
        { label: 'User', cls: 'mono', get: (x) => x.u.user },
        { label: 'Mechanism', get: (x) => x.c.mechanism },
        { label: 'Iterations', num: true, get: (x) => num(x.c.iterations) },
        { label: '', get: (x) => h('button', { class: 'danger', onclick: (ev) => remove(x.u, x.c, ev.currentTarget) }, 'Delete') },
      ], rows, { id: 'users', empty: 'No SCRAM users yet.' }));
  }

  // ---- start ----
  api('/cluster').then((c) => {
    document.getElementById('cluster-badge').textContent = `cluster ${c.cluster_id} · broker ${c.node_id} · skua ${c.version}`;
  }).catch(() => {});
  sampleMetrics();
  setInterval(sampleMetrics, 2000);
  window.addEventListener('hashchange', route);
  route();
})();
