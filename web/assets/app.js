// emperor's dashboard. No framework: the fleet comes from the event stream (/api/stream, one
// snapshot a second), a vassal's history from /api/vassals/NAME/history, actions go to
// POST /api/vassals/NAME/ACTION with the CSRF token. Every name, error, event and ini line is
// put into the page as text (textContent), never as HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const PAGE = 50;
  const SPARK_SECONDS = 15 * 60;
  const ACTIONS = ['reload', 'chain-reload', 'restart', 'stop', 'start'];
  const RANGES = ['15m', '1h', '24h', '30d'];

  let csrf = null;
  let fleet = [];
  let fleetTime = 0;
  const rates = new Map(); // name -> {req, t, rps, spark: [[t, rps]...]}
  let sortKey = 'name', sortDir = 1, page = 0, filterText = '';
  const rows = new Map(); // name -> {tr, cells}
  let stream = null;
  let current = null; // the vassal view's state

  // ---- formatting: units that read well, times in the browser's zone ----
  const num = (x) => typeof x === 'number' && isFinite(x);
  function fmtCount(x, digits = 1) {
    if (!num(x)) return '–';
    const a = Math.abs(x);
    if (a >= 1e9) return (x / 1e9).toFixed(digits) + 'G';
    if (a >= 1e6) return (x / 1e6).toFixed(digits) + 'M';
    if (a >= 1e4) return (x / 1e3).toFixed(digits) + 'k';
    if (a >= 1e3) return (x / 1e3).toFixed(digits) + 'k';
    if (Number.isInteger(x)) return String(x);
    return x < 10 ? x.toFixed(digits) : x.toFixed(0);
  }
  function fmtBytes(x) {
    if (!num(x)) return '–';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (i === 0 || x >= 100 ? x.toFixed(0) : x.toFixed(1)) + ' ' + u[i];
  }
  function fmtMs(x) {
    if (!num(x)) return '–';
    if (x >= 1000) return (x / 1000).toFixed(2) + ' s';
    if (x >= 10) return x.toFixed(0) + ' ms';
    return x.toFixed(1) + ' ms';
  }
  function fmtDuration(s) {
    if (!num(s)) return '–';
    s = Math.floor(s);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }
  const fmtPct = (x) => (num(x) ? x.toFixed(x < 10 ? 1 : 0) + '%' : '–');
  const fmtTime = (ms) => new Date(ms).toLocaleString();

  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k); // strings become text nodes
    return e;
  }

  // ---- requests ----
  async function api(path, opts = {}) {
    const r = await fetch(path, { credentials: 'same-origin', ...opts });
    const type = r.headers.get('Content-Type') || '';
    const body = type.startsWith('application/json') ? await r.json() : await r.text();
    if (r.status === 401) showLogin();
    if (!r.ok) {
      const msg = (body && body.error) || (typeof body === 'string' ? body.trim() : '') || r.statusText;
      throw Object.assign(new Error(msg), { status: r.status });
    }
    return body;
  }

  async function act(name, action) {
    return api('/api/vassals/' + encodeURIComponent(name) + '/' + action, {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf || '' },
    });
  }

  function confirmDialog(text) {
    const d = $('confirm');
    $('confirm-text').textContent = text;
    return new Promise((resolve) => {
      d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
      d.returnValue = '';
      d.showModal();
      $('confirm-ok').focus();
    });
  }

  // ---- live numbers: rates over the vassals' report times, not over our polls ----
  function absorb(msg) {
    fleetTime = msg.time;
    fleet = msg.vassals || [];
    const seen = new Set();
    for (const v of fleet) {
      seen.add(v.name);
      const reportT = fleetTime - (num(v.stats_age) ? v.stats_age * 1000 : 0);
      let r = rates.get(v.name);
      if (!r) { r = { req: v.requests, t: reportT, rps: null, spark: [] }; rates.set(v.name, r); }
      if (!num(v.requests)) { r.req = null; r.rps = null; }
      else if (!num(r.req) || v.requests < r.req) { r.req = v.requests; r.t = reportT; }
      else if (reportT - r.t >= 500) {
        r.rps = (v.requests - r.req) / ((reportT - r.t) / 1000);
        r.req = v.requests; r.t = reportT;
        r.spark.push([fleetTime / 1000, r.rps]);
        while (r.spark.length && r.spark[0][0] < fleetTime / 1000 - SPARK_SECONDS) r.spark.shift();
      }
      v.rps = r.rps;
    }
    for (const k of rates.keys()) if (!seen.has(k)) rates.delete(k);
    renderSummary();
    if (!$('fleet').hidden) renderFleet();
    if (current && current.name) renderVassalLive();
  }

  function connect() {
    if (stream) return;
    stream = new EventSource('/api/stream');
    stream.addEventListener('fleet', (e) => {
      $('conn').textContent = 'live';
      $('conn').className = 'conn live';
      absorb(JSON.parse(e.data));
    });
    stream.onerror = () => {
      $('conn').textContent = 'reconnecting…';
      $('conn').className = 'conn down';
    };
  }

  function renderSummary() {
    const running = fleet.filter((v) => v.state === 'running').length;
    const rps = fleet.reduce((a, v) => a + (num(v.rps) ? v.rps : 0), 0);
    $('summary').textContent = `${fleet.length} vassal${fleet.length === 1 ? '' : 's'} · ${running} running · ${fmtCount(rps)} req/s`;
  }

  // ---- the fleet view ----
  const stateCell = (v) => el('span', { class: 'state s-' + v.state, text: v.state });
  const COLUMNS = [
    { key: 'name', label: 'Vassal', l: true, val: (v) => v.name,
      cell: (v) => el('a', { href: '#/v/' + encodeURIComponent(v.name), text: v.name }) },
    { key: 'state', label: 'State', l: true, val: (v) => v.state, cell: stateCell },
    { key: 'uptime', label: 'Uptime', val: (v) => v.uptime, fmt: fmtDuration, narrow: true },
    { key: 'workers', label: 'Busy', val: (v) => (v.workers ? v.workers.busy : null),
      fmt: (_, v) => (v.workers ? `${v.workers.busy}/${v.workers.total}` : '–') },
    { key: 'rps', label: 'req/s', val: (v) => v.rps, fmt: (x) => fmtCount(x) },
    { key: 'avg_rt_ms', label: 'Avg', val: (v) => v.avg_rt_ms, fmt: fmtMs },
    { key: 'p99_rt_ms', label: 'p99', val: (v) => v.p99_rt_ms, fmt: fmtMs, narrow: true },
    { key: 'errors', label: 'Errors', val: (v) => v.errors, fmt: (x) => fmtCount(x) },
    { key: 'rss', label: 'RSS', val: (v) => v.rss, fmt: fmtBytes },
    { key: 'cpu', label: 'CPU', val: (v) => v.cpu, fmt: fmtPct, narrow: true },
    { key: 'restarts', label: 'Restarts', val: (v) => v.restarts, fmt: (x) => fmtCount(x), narrow: true },
    { key: 'listen_queue', label: 'Queue', val: (v) => v.listen_queue, fmt: (x) => fmtCount(x), narrow: true },
    { key: 'last_error', label: 'Last error', l: true, val: (v) => v.last_error || v.last_exit || '',
      err: true, narrow: true },
    { key: 'spark', label: 'Last 15 min', nosort: true, narrow: true },
    { key: 'act', label: 'Action', nosort: true, l: true },
  ];

  function buildHead() {
    const tr = $('fleet-head');
    for (const c of COLUMNS) {
      const th = el('th', { class: (c.l ? 'l ' : '') + (c.narrow ? 'hide-narrow' : ''), scope: 'col' });
      if (c.nosort) th.textContent = c.label;
      else {
        th.append(el('button', { type: 'button', text: c.label, onclick: () => {
          if (sortKey === c.key) sortDir = -sortDir; else { sortKey = c.key; sortDir = c.l ? 1 : -1; }
          renderFleet();
        } }));
      }
      c.th = th;
      tr.append(th);
    }
  }

  function sparkSvg(points) {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 90 22');
    svg.setAttribute('role', 'img');
    const line = document.createElementNS(NS, 'polyline');
    svg.append(line);
    return svg;
  }
  function sparkUpdate(svg, points) {
    const line = svg.firstChild;
    if (!points || points.length < 2) { line.setAttribute('points', ''); return; }
    const now = fleetTime / 1000, t0 = now - SPARK_SECONDS;
    const max = Math.max(1e-9, ...points.map((p) => p[1]));
    line.setAttribute('points', points.map((p) =>
      `${(((p[0] - t0) / SPARK_SECONDS) * 90).toFixed(1)},${(21 - (p[1] / max) * 20).toFixed(1)}`).join(' '));
    svg.setAttribute('aria-label', `up to ${fmtCount(max)} req/s`);
  }

  function actionSelect(name) {
    const s = el('select', { 'aria-label': 'action for ' + name, 'data-vassal': name },
      el('option', { value: '', text: 'Action…' }),
      ...ACTIONS.map((a) => el('option', { value: a, text: a })));
    s.addEventListener('change', async () => {
      const a = s.value;
      s.value = '';
      if (!a) return;
      await runAction(name, a, { ok: $('fleet-result'), err: $('fleet-error') });
    });
    return s;
  }

  // A row's sparkline starts with the store's last 15 minutes (fetched once per vassal, a few
  // at a time); the stream adds to it from then on.
  const seeded = new Set();
  let seeding = 0;
  const seedQueue = [];
  function seedSpark(name) {
    if (seeded.has(name)) return;
    seeded.add(name);
    seedQueue.push(name);
    pumpSeeds();
  }
  function pumpSeeds() {
    while (seeding < 4 && seedQueue.length) {
      const name = seedQueue.shift();
      seeding++;
      api(`/api/vassals/${encodeURIComponent(name)}/history?since=15m&every=15s`).then((h) => {
        const r = rates.get(name);
        if (!r) return;
        const first = r.spark.length ? r.spark[0][0] : Infinity;
        const old = h.samples.filter((s) => num(s.rps) && s.ts + s.every <= first).map((s) => [s.ts + s.every, s.rps]);
        r.spark.unshift(...old);
        const row = rows.get(name);
        if (row) sparkUpdate(row.cells.svg, r.spark);
      }).catch(() => {}).finally(() => { seeding--; pumpSeeds(); });
    }
  }

  function makeRow(v) {
    seedSpark(v.name);
    const tr = el('tr', { 'data-vassal': v.name });
    const cells = {};
    for (const c of COLUMNS) {
      const td = el('td', { class: (c.l ? 'l ' : '') + (c.err ? 'err ' : '') + (c.narrow ? 'hide-narrow' : '') });
      if (c.key === 'spark') td.append(cells.svg = sparkSvg());
      else if (c.key === 'act') td.append(actionSelect(v.name));
      else if (c.key === 'name') td.append(c.cell(v));
      cells[c.key] = td;
      tr.append(td);
    }
    return { tr, cells };
  }

  function updateRow(row, v) {
    for (const c of COLUMNS) {
      const td = row.cells[c.key];
      if (c.key === 'name' || c.key === 'act') continue;
      if (c.key === 'spark') { sparkUpdate(row.cells.svg, (rates.get(v.name) || {}).spark); continue; }
      if (c.key === 'state') {
        if (td.dataset.s !== v.state) { td.replaceChildren(stateCell(v)); td.dataset.s = v.state; }
        continue;
      }
      const text = c.fmt ? c.fmt(c.val(v), v) : String(c.val(v) ?? '');
      if (td.textContent !== text) td.textContent = text;
      if (c.err) td.title = text;
    }
  }

  const collator = new Intl.Collator(); // one for every sort: localeCompare makes one a call
  function visible() {
    const f = filterText.toLowerCase();
    const list = f ? fleet.filter((v) => v.name.toLowerCase().includes(f) || v.state.includes(f) ||
      (v.last_error || '').toLowerCase().includes(f)) : fleet.slice();
    const col = COLUMNS.find((c) => c.key === sortKey) || COLUMNS[0];
    list.sort((a, b) => {
      const x = col.val(a), y = col.val(b);
      const xn = x === null || x === undefined, yn = y === null || y === undefined;
      if (xn || yn) return xn === yn ? collator.compare(a.name, b.name) : xn ? 1 : -1;
      const d = typeof x === 'string' ? collator.compare(x, y) : x - y;
      return d ? d * sortDir : collator.compare(a.name, b.name);
    });
    return list;
  }

  function renderFleet() {
    for (const c of COLUMNS)
      if (c.th && !c.nosort) c.th.setAttribute('aria-sort', c.key === sortKey ? (sortDir > 0 ? 'ascending' : 'descending') : 'none');
    const list = visible();
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    page = Math.min(page, pages - 1);
    const shown = list.slice(page * PAGE, page * PAGE + PAGE);
    $('count').textContent = filterText ? `${list.length} of ${fleet.length}` : `${fleet.length} vassals`;
    $('page').textContent = `${page + 1} / ${pages}`;
    $('prev').disabled = page === 0;
    $('next').disabled = page >= pages - 1;

    const body = $('fleet-body');
    const names = new Set(shown.map((v) => v.name));
    for (const [name, row] of rows) if (!names.has(name)) { row.tr.remove(); rows.delete(name); }
    let prev = null;
    for (const v of shown) {
      let row = rows.get(v.name);
      if (!row) { row = makeRow(v); rows.set(v.name, row); }
      updateRow(row, v);
      const want = prev ? prev.nextSibling : body.firstChild;
      if (want !== row.tr) body.insertBefore(row.tr, want);
      prev = row.tr;
    }
    renderTotals(list);
  }

  function renderTotals(list) {
    const sum = (f) => list.reduce((a, v) => a + (num(f(v)) ? f(v) : 0), 0);
    const rps = sum((v) => v.rps);
    const weighted = list.reduce((a, v) => a + (num(v.rps) && num(v.avg_rt_ms) ? v.rps * v.avg_rt_ms : 0), 0);
    const p99 = Math.max(-Infinity, ...list.map((v) => (num(v.p99_rt_ms) ? v.p99_rt_ms : -Infinity)));
    const vals = {
      name: 'Total', state: `${list.filter((v) => v.state === 'running').length} running`,
      workers: `${sum((v) => v.workers && v.workers.busy)}/${sum((v) => v.workers && v.workers.total)}`,
      rps: fmtCount(rps), avg_rt_ms: rps > 0 ? fmtMs(weighted / rps) : '–',
      p99_rt_ms: isFinite(p99) ? fmtMs(p99) : '–', errors: fmtCount(sum((v) => v.errors)),
      rss: fmtBytes(sum((v) => v.rss)), cpu: fmtPct(sum((v) => v.cpu)),
      restarts: fmtCount(sum((v) => v.restarts)), listen_queue: fmtCount(sum((v) => v.listen_queue)),
    };
    const tr = $('fleet-total');
    tr.replaceChildren(...COLUMNS.map((c) => el('td', { class: (c.l ? 'l ' : '') + (c.narrow ? 'hide-narrow' : ''), text: vals[c.key] || '' })));
  }

  // ---- actions ----
  async function runAction(name, action, out) {
    if (!(await confirmDialog(`${action} '${name}'?`))) return;
    const before = current && current.name === name && current.detail ? current.detail.worker_pids || [] : null;
    const show = (ok, text) => { out.ok.textContent = ok ? text : ''; out.err.textContent = ok ? '' : text; };
    try {
      const r = await act(name, action);
      show(true, r.message || 'done');
      if (out && before && /reload|restart/.test(action)) watchPids(name, before, out);
    } catch (e) {
      show(false, `${action} '${name}': ${e.message}`);
    }
  }

  // After a reload: the new worker pids once they differ from the old ones.
  async function watchPids(name, before, out) {
    const key = before.join(',');
    for (let i = 0; i < 60 && current && current.name === name; i++) {
      await new Promise((r) => setTimeout(r, 500));
      let d;
      try { d = await api('/api/vassals/' + encodeURIComponent(name)); } catch { continue; }
      const now = d.worker_pids || [];
      if (now.length && now.join(',') !== key && d.state === 'running') {
        out.ok.textContent = `workers ${before.join(', ') || '–'} → ${now.join(', ')}`;
        current.detail = d;
        renderWorkers(d);
        return;
      }
    }
  }

  // ---- the vassal view ----
  // uPlot draws the vassal view's charts alone: it is loaded when a vassal view first opens,
  // so the fleet view's first load neither fetches nor parses it.
  let uplotReady = null;
  function loadUplot() {
    if (!uplotReady) {
      uplotReady = new Promise((resolve, reject) => {
        document.head.append(el('link', { rel: 'stylesheet', href: '/assets/uPlot.min.css' }));
        document.head.append(el('script', {
          src: '/assets/uPlot.iife.min.js',
          onload: resolve,
          onerror: () => { uplotReady = null; reject(new Error('the charts did not load')); },
        }));
      });
    }
    return uplotReady;
  }

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  const CHARTS = [
    { title: 'Requests/s', series: [{ label: 'req/s', key: 'rps', fmt: fmtCount }] },
    { title: 'Latency', series: [{ label: 'avg', key: 'avg_rt_ms', fmt: fmtMs }, { label: 'p99', key: 'p99_rt_ms', fmt: fmtMs }] },
    { title: 'Errors', series: [{ label: 'errors', key: 'errors_delta', fmt: fmtCount }] },
    { title: 'Memory (RSS)', series: [{ label: 'rss', key: 'rss', fmt: fmtBytes }] },
    { title: 'CPU', series: [{ label: 'cpu', key: 'cpu', fmt: fmtPct }] },
    { title: 'Workers', series: [{ label: 'busy', key: 'busy', fmt: fmtCount }, { label: 'total', key: 'total', fmt: fmtCount }] },
  ];
  // The events marked on the charts (all of them are listed): reloads, crashes, harakiri,
  // recycles, config errors, stops; not the steps of every start.
  const EVENT_COLORS = {
    harakiri: '--bad', 'crash-loop': '--bad', 'config-error': '--bad', exit: '--muted',
    reload: '--warn', reloading: '--warn', changed: '--warn', recycle: '--accent',
    stopping: '--muted', stopped: '--muted', removed: '--muted',
  };

  // Vertical lines at the vassal's events (reloads, crashes, harakiri, recycles, config errors).
  function eventsPlugin() {
    return {
      hooks: {
        draw: (u) => {
          if (!current || !current.events) return;
          const ctx = u.ctx;
          const [x0, x1] = [u.scales.x.min, u.scales.x.max];
          ctx.save();
          ctx.lineWidth = 1;
          for (const e of current.events) {
            const t = e.ts_ms / 1000;
            if (t < x0 || t > x1 || !EVENT_COLORS[e.kind]) continue;
            const x = Math.round(u.valToPos(t, 'x', true));
            ctx.strokeStyle = cssVar(EVENT_COLORS[e.kind]);
            ctx.setLineDash([3, 3]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          }
          ctx.restore();
        },
      },
    };
  }

  function makeCharts() {
    const box = $('charts');
    box.replaceChildren();
    current.charts = [];
    const palette = [cssVar('--accent'), cssVar('--warn')];
    for (const spec of CHARTS) {
      const div = el('div', { class: 'chart' }, el('h3', { text: spec.title }));
      box.append(div);
      const width = Math.max(280, div.clientWidth - 16);
      const opts = {
        width, height: 170,
        plugins: [eventsPlugin()],
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: cssVar('--muted'), grid: { stroke: cssVar('--line') }, ticks: { stroke: cssVar('--line') } },
          { stroke: cssVar('--muted'), grid: { stroke: cssVar('--line') }, ticks: { stroke: cssVar('--line') },
            size: 72, values: (u, vals) => vals.map((v) => spec.series[0].fmt(v)) },
        ],
        series: [{}, ...spec.series.map((s, i) => ({
          label: s.label, stroke: palette[i % palette.length], width: 1.5, spanGaps: false,
          value: (u, v) => (v === null || v === undefined ? '–' : s.fmt(v)),
        }))],
      };
      const chart = { spec, div, zoomed: false };
      opts.hooks = { setSelect: [(u) => { if (u.select.width > 0) chart.zoomed = true; }] };
      chart.u = new uPlot(opts, [[], ...spec.series.map(() => [])], div);
      div.addEventListener('dblclick', () => { chart.zoomed = false; loadHistory(); });
      current.charts.push(chart);
    }
    if (current.resize) current.resize.disconnect();
    current.resize = new ResizeObserver(() => {
      for (const c of current.charts) c.u.setSize({ width: Math.max(280, c.div.clientWidth - 16), height: 170 });
    });
    current.resize.observe(box);
  }

  async function loadHistory() {
    const name = current.name, range = current.range;
    try {
      const [h, ev] = await Promise.all([
        api(`/api/vassals/${encodeURIComponent(name)}/history?since=${range}`),
        api(`/api/vassals/${encodeURIComponent(name)}/events?since=${range === '15m' || range === '1h' ? '24h' : range}`),
      ]);
      if (!current || current.name !== name || current.range !== range) return;
      current.events = ev.events || [];
      const xs = h.samples.map((s) => s.ts);
      for (const c of current.charts) {
        // The whole range on the x axis, however little of it has data; a zoom (drag) stays
        // until the next range is picked.
        c.u.setData([xs, ...c.spec.series.map((s) => h.samples.map((r) => (num(r[s.key]) ? r[s.key] : null)))], false);
        if (!c.zoomed) c.u.setScale('x', { min: h.since, max: h.until });
      }
      $('charts').dataset.points = String(xs.length);
      renderEvents();
      $('v-error').textContent = '';
    } catch (e) {
      $('v-error').textContent = 'history: ' + e.message;
    }
  }

  function renderEvents() {
    const list = $('v-events');
    const evs = (current.events || []).slice().reverse().slice(0, 200);
    list.replaceChildren(...evs.map((e) => el('li', {},
      el('time', { datetime: new Date(e.ts_ms).toISOString(), text: fmtTime(e.ts_ms) }),
      el('span', { class: 'kind', text: e.kind }),
      el('span', { text: e.detail || '' }))));
    if (!evs.length) list.append(el('li', { text: 'no events in this range' }));
  }

  function renderWorkers(d) {
    const pids = d.worker_pids || [];
    $('v-workers').replaceChildren(...pids.map((p, i) => el('tr', {}, el('td', { text: String(i + 1) }), el('td', { text: String(p) }))));
    $('v-sockets').replaceChildren(...(d.sockets || []).map((s) => el('li', { text: s })));
    $('v-ini-path').textContent = d.ini || '';
  }

  function renderVassalLive() {
    const v = fleet.find((x) => x.name === current.name);
    if (!v) { $('v-state').textContent = 'gone'; return; }
    const s = $('v-state');
    s.textContent = v.state;
    s.className = 'state s-' + v.state;
    $('v-facts').textContent = [
      v.pid ? `pid ${v.pid}` : null, `up ${fmtDuration(v.uptime)}`,
      v.workers ? `${v.workers.busy}/${v.workers.total} busy` : null,
      `${fmtCount(v.rps)} req/s`, `avg ${fmtMs(v.avg_rt_ms)}`, `rss ${fmtBytes(v.rss)}`,
      `${v.restarts} restarts`, v.last_error ? `error: ${v.last_error}` : null,
    ].filter(Boolean).join(' · ');
    const now = Date.now();
    if (!current.detailAt || now - current.detailAt > 2000) {
      current.detailAt = now;
      api('/api/vassals/' + encodeURIComponent(current.name)).then((d) => {
        if (current && current.name === d.name) { current.detail = d; renderWorkers(d); }
      }).catch(() => {});
    }
    if (!current.historyAt || now - current.historyAt > (current.range === '15m' || current.range === '1h' ? 5000 : 60000)) {
      current.historyAt = now;
      loadHistory();
    }
  }

  // ---- the log tail: /api/vassals/NAME/log, Server-Sent Events of {"lines": [...]}; each line
  // goes in as a text node, so a line holding markup shows as text. The last LOG_KEEP lines
  // stay; closing the stream (another page) ends the tail in the emperor.
  const LOG_KEEP = 500;
  let logSource = null;

  function closeLog() {
    if (logSource) { logSource.close(); logSource = null; }
  }

  function openLog(name) {
    closeLog();
    const pre = $('v-log');
    pre.replaceChildren();
    $('v-log-path').textContent = '';
    $('v-log-state').textContent = 'connecting…';
    const src = new EventSource('/api/vassals/' + encodeURIComponent(name) + '/log?lines=100');
    logSource = src;
    src.addEventListener('log-open', (e) => {
      if (logSource !== src) return;
      // A new stream after a reconnection starts again from the last lines.
      pre.replaceChildren();
      $('v-log-path').textContent = JSON.parse(e.data).path || '';
      $('v-log-state').textContent = 'live';
    });
    src.addEventListener('log', (e) => {
      if (logSource !== src) return;
      const msg = JSON.parse(e.data);
      const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 30;
      for (const line of msg.lines || []) pre.append(document.createTextNode(line + '\n'));
      while (pre.childNodes.length > LOG_KEEP) pre.firstChild.remove();
      if (msg.end) $('v-log-state').textContent = 'ended: ' + msg.end;
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    src.onerror = () => {
      if (logSource === src) $('v-log-state').textContent = 'reconnecting…';
    };
  }

  async function openVassal(name) {
    if (current && current.resize) current.resize.disconnect();
    if (current && current.timer) clearInterval(current.timer);
    current = { name, range: current && current.range ? current.range : '15m' };
    $('v-name').textContent = name;
    $('v-result').textContent = $('v-error').textContent = '';
    $('v-events').replaceChildren();
    $('v-ini').textContent = '';
    openLog(name);
    const out = { ok: $('v-result'), err: $('v-error') };
    $('v-actions').replaceChildren(...ACTIONS.map((a) =>
      el('button', { type: 'button', 'data-action': a, text: a, onclick: () => runAction(name, a, out) })));
    $('ranges').replaceChildren(...RANGES.map((r) => el('button', {
      type: 'button', text: r, 'aria-pressed': String(r === current.range),
      onclick: () => {
        current.range = r;
        for (const c of current.charts) c.zoomed = false;
        for (const b of $('ranges').children) b.setAttribute('aria-pressed', String(b.textContent === r));
        current.historyAt = Date.now();
        loadHistory();
      },
    })));
    current.charts = [];
    current.detailAt = 0;
    current.historyAt = Date.now();
    const opened = current;
    loadUplot().then(() => {
      if (current !== opened) return;
      makeCharts();
      loadHistory();
    }).catch((e) => { if (current === opened) $('v-error').textContent = e.message; });
    api('/api/vassals/' + encodeURIComponent(name) + '/ini')
      .then((t) => { if (current && current.name === name) $('v-ini').textContent = t; })
      .catch((e) => { if (current && current.name === name) $('v-ini').textContent = '(' + e.message + ')'; });
    if (fleet.length) renderVassalLive();
  }

  // ---- routing: #/ the fleet, #/v/NAME one vassal ----
  function route() {
    const h = location.hash;
    const m = /^#\/v\/(.+)$/.exec(h);
    $('login').hidden = true;
    if (m) {
      $('fleet').hidden = true;
      $('vassal').hidden = false;
      let name;
      try { name = decodeURIComponent(m[1]); } catch { name = m[1]; }
      openVassal(name);
    } else {
      if (current && current.resize) current.resize.disconnect();
      closeLog();
      current = null;
      $('vassal').hidden = true;
      $('fleet').hidden = false;
      renderFleet();
    }
  }

  function showLogin() {
    $('fleet').hidden = $('vassal').hidden = true;
    $('login').hidden = false;
    $('conn').textContent = '';
  }

  async function start() {
    let s;
    try { s = await api('/api/session'); } catch (e) { if (e.status !== 401) $('conn').textContent = e.message; return; }
    csrf = s.csrf;
    $('logout').hidden = !s.auth;
    connect();
    route();
    // The first table from a plain request (asked for with the session, not after it: one
    // round trip less), in parallel with the stream's first event (which some browsers hand
    // over only later).
    const list = firstList || api('/api/vassals');
    firstList = null;
    list.then((r) => { if (!fleetTime) absorb({ time: Date.now(), vassals: r.vassals }); }).catch(() => {});
  }
  // Asked for at once; dropped if the session needs a login first.
  let firstList = api('/api/vassals');
  firstList.catch(() => { firstList = null; });

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await api('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: f.get('user'), password: f.get('password') }) });
      $('login-error').textContent = '';
      start();
    } catch (err) {
      $('login-error').textContent = err.message;
    }
  });
  $('logout').addEventListener('click', async () => {
    try { await api('/logout', { method: 'POST' }); } catch { /* gone anyway */ }
    location.reload();
  });
  $('filter').addEventListener('input', (e) => { filterText = e.target.value.trim(); page = 0; renderFleet(); });
  $('prev').addEventListener('click', () => { page = Math.max(0, page - 1); renderFleet(); });
  $('next').addEventListener('click', () => { page++; renderFleet(); });
  window.addEventListener('hashchange', route);
  buildHead();
  start();
})();
