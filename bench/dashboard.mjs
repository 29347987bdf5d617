// bench/dashboard.mjs: the browser side of bench/dashboard.sh, in headless Chromium (Debian's,
// driven by playwright-core, as tests/browser/dashboard.mjs does).
//   node bench/dashboard.mjs load BASE_URL N RUNS
//     RUNS times, each in a fresh browser context (no cache, no storage): opens BASE_URL/ and
//     measures, in the page's clock (performance.now(), from the start of the navigation), when
//     the fleet table is full: the toolbar says "N vassals", the totals row says "N running"
//     and the first page of rows (min(N, 50)) is in the table with their uptime filled in, all
//     checked at each animation frame. Also when the last sparkline history request of that
//     first page has answered ("sparklines seeded"). Prints one line per run and a median line.
//   node bench/dashboard.mjs hold BASE_URL SECONDS STREAMS
//     One real page on the fleet view plus STREAMS raw clients of /api/stream (each reads and
//     discards the events, as a page would parse them), held SECONDS; prints "ready" once all
//     are connected (the page's table full, every stream's first event in), then "done".
import { chromium } from 'playwright-core';

const [mode, base, a1, a2] = process.argv.slice(2);
const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const median = (xs) => { const s = xs.slice().sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

// Resolves, in the page, to performance.now() at the first frame where the table is full.
function fullTable(n) {
  const rows = Math.min(n, 50);
  return new Promise((resolve) => {
    const check = () => {
      const count = document.getElementById('count');
      const total = document.querySelector('#fleet-total td:nth-child(2)');
      const trs = document.querySelectorAll('#fleet-body tr');
      const filled = trs.length >= rows &&
        [...trs].slice(0, rows).every((tr) => { const u = tr.children[2]; return u && u.textContent !== '' && u.textContent !== '–'; });
      if (count && count.textContent === `${n} vassals` && total && total.textContent === `${n} running` && filled)
        resolve(performance.now());
      else requestAnimationFrame(check);
    };
    check();
  });
}

async function load(n, runs) {
  const browser = await launch();
  const table = [], seeded = [];
  try {
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      let pending = 0, last = 0, hist = 0, histBytes = 0, listMs = null, listBytes = 0;
      page.on('request', (r) => { if (r.url().includes('/history?')) { pending++; hist++; } });
      page.on('requestfinished', async (r) => {
        const u = r.url();
        if (u.includes('/history?')) {
          pending--;
          last = Date.now();
          const s = await r.sizes().catch(() => null);
          if (s) histBytes += s.responseBodySize;
        } else if (/\/api\/vassals$/.test(u)) {
          const t = r.timing();
          listMs = t.responseEnd;
          const s = await r.sizes().catch(() => null);
          if (s) listBytes = s.responseBodySize;
        }
      });
      await page.addInitScript(`window.__fullTable = ${fullTable.toString()};`);
      const start = Date.now();
      await page.goto(base + '/', { waitUntil: 'commit' });
      const ms = await page.evaluate((k) => window.__fullTable(k), n);
      if (process.env.VERBOSE) {
        // Where the time went: the navigation's and each resource's start and end (ms).
        const t = await page.evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0];
          const res = performance.getEntriesByType('resource').filter((r) => !r.name.includes('/history?'));
          return [`document ${nav.responseEnd.toFixed(0)}, DOMContentLoaded ${nav.domContentLoadedEventEnd.toFixed(0)}`,
            ...res.map((r) => `${r.name.replace(/^https?:\/\/[^/]+/, '')} ${r.startTime.toFixed(0)}-${r.responseEnd.toFixed(0)}`)];
        });
        for (const l of t) console.log('    ' + l);
      }
      // The sparklines: every history request of the first page answered, none for 500 ms.
      const end = Date.now() + 30000;
      while (Date.now() < end && (pending > 0 || hist === 0 || Date.now() - last < 500))
        await new Promise((r) => setTimeout(r, 50));
      const seed = hist ? last - start : null;
      table.push(ms);
      if (seed !== null) seeded.push(seed);
      console.log(`run ${i + 1}: full table ${ms.toFixed(0)} ms; /api/vassals ${listBytes} B` +
        (listMs !== null ? ` in ${listMs.toFixed(0)} ms` : '') +
        `; sparklines: ${hist} history requests, ${histBytes} B, seeded at ${seed ?? '–'} ms`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  console.log(`median: full table ${median(table).toFixed(0)} ms` +
    (seeded.length ? `, sparklines seeded ${median(seeded)} ms` : ''));
}

async function hold(seconds, streams) {
  const browser = await launch();
  const ctl = new AbortController();
  let events = 0, bytes = 0;
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(base + '/');
    await page.waitForSelector('#fleet-body tr');
    const firsts = [];
    for (let i = 0; i < streams; i++) {
      const r = await fetch(base + '/api/stream', { signal: ctl.signal });
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let got;
      firsts.push(new Promise((res) => { got = res; }));
      (async () => {
        let buf = '';
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            bytes += value.length;
            buf += dec.decode(value, { stream: true });
            let k;
            while ((k = buf.indexOf('\n\n')) >= 0) {
              const ev = buf.slice(0, k);
              buf = buf.slice(k + 2);
              const data = ev.split('\n').find((l) => l.startsWith('data: '));
              if (data) { JSON.parse(data.slice(6)); events++; got(); }
            }
          }
        } catch { /* aborted */ }
      })();
    }
    await Promise.all(firsts);
    console.log('ready');
    const e0 = events, b0 = bytes;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    console.log(`done: ${events - e0} events, ${((bytes - b0) / 1e6).toFixed(1)} MB to ${streams} streams in ${seconds} s; page rows: ${await page.locator('#fleet-body tr').count()}`);
  } finally {
    ctl.abort();
    await browser.close();
  }
}

if (mode === 'load') await load(Number(a1), Number(a2 || 3));
else if (mode === 'hold') await hold(Number(a1 || 30), Number(a2 || 19));
else { console.error('usage: dashboard.mjs load BASE N RUNS | hold BASE SECONDS STREAMS'); process.exit(2); }
