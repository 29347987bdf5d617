// The dashboard in real headless Chromium (Debian's, driven by playwright-core), against a
// real emperor with real vassals under load (tests/integration/test-dashboard.sh starts them).
//   node tests/browser/dashboard.mjs BASE_URL SHOT_DIR LOGGER_PORT LOG_DIR
// Checks: the fleet table's numbers change without a reload; a vassal's charts draw data from
// the store; a reload click changes the worker pids and records the event; a stop click stops;
// POSTs without the CSRF token or from a foreign Origin are refused and change nothing; hostile
// text shows as text and runs nothing; the log tail of the vassal on LOGGER_PORT (logging to
// LOG_DIR/logger.log, rotating at 4 KiB) shows new lines live, across rotations, a hostile
// line as text. Screenshots: fleet light and dark, a vassal, a phone.
import { chromium } from 'playwright-core';
import { mkdirSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';

const [base, shots, loggerPort, logDir] = process.argv.slice(2);
const HOSTILE = '<img src=x onerror=alert(1)>';
mkdirSync(shots, { recursive: true });

let failed = false;
const ok = (what) => console.log('  ok: ' + what);
function check(cond, what) {
  if (!cond) throw new Error(what);
  ok(what);
}
async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} (last: ${last})`);
}
const getJSON = async (path) => (await fetch(base + path)).json();
// A request with its target as written (fetch would percent-encode "<"): the vassal logs it.
const rawGet = (target) => new Promise((resolve) => {
  const s = connect(Number(loggerPort), '127.0.0.1', () => s.end(`GET ${target} HTTP/1.0\r\n\r\n`));
  s.on('data', () => {});
  s.on('close', resolve);
  s.on('error', resolve);
});
const backups = () => readdirSync(logDir).filter((n) => n.startsWith('logger.log.')).length;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  const problems = [];
  page.on('dialog', (d) => { problems.push('a dialog opened: ' + d.message()); d.dismiss(); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  // The hostile text must never be fetched as an image.
  page.on('request', (r) => { if (/\/x$/.test(r.url())) problems.push('the hostile img loaded'); });

  // ---- the fleet: live numbers ----
  const t0 = Date.now();
  await page.goto(base + '/');
  await page.waitForSelector('tr[data-vassal="alpha"]');
  await until('all vassals listed', async () => (await page.locator('#fleet-body tr').count()) >= 4);
  ok(`the fleet table lists the vassals (${Date.now() - t0} ms to the table)`);
  const uptime = () => page.locator('tr[data-vassal="alpha"] td').nth(2).textContent();
  const rps = () => page.locator('tr[data-vassal="alpha"] td').nth(4).textContent();
  const u1 = await uptime();
  await until('uptime changes without a reload', async () => (await uptime()) !== u1);
  const r = await until('req/s of alpha under load', async () => {
    const t = await rps();
    return t !== '–' && parseFloat(t) > 0 ? t : null;
  });
  ok(`numbers change live (uptime ${u1} → ${await uptime()}, alpha at ${r} req/s)`);
  const bad = await page.locator('tr[data-vassal="bad"] td.err').textContent();
  check(bad.includes(HOSTILE), 'an error quoting hostile text shows it as text: ' + bad.slice(0, 80));
  check((await page.locator('img').count()) === 0, 'no <img> element made from it');
  // Sorting and filtering.
  await page.getByRole('button', { name: 'Vassal' }).click();
  const first = await page.locator('#fleet-body tr').first().getAttribute('data-vassal');
  check(first === 'gamma', 'sorting by name, descending, puts gamma first');
  await page.fill('#filter', 'bet');
  await until('the filter keeps beta alone', async () =>
    (await page.locator('#fleet-body tr').count()) === 1 &&
    (await page.locator('#fleet-body tr').first().getAttribute('data-vassal')) === 'beta');
  ok('the filter box narrows the table');
  await page.fill('#filter', '');
  await page.waitForTimeout(1200);
  await page.screenshot({ path: `${shots}/fleet-light.png`, fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== 'rgb(250, 250, 250)', 'the dark theme follows the system: background ' + bg);
  await page.screenshot({ path: `${shots}/fleet-dark.png`, fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });

  // ---- a vassal: charts from the store ----
  await page.goto(base + '/#/v/alpha');
  await until('the charts have data from the store', async () =>
    parseInt((await page.locator('#charts').getAttribute('data-points')) || '0', 10) >= 2);
  check((await page.locator('#charts canvas').count()) === 6, 'six charts drawn');
  const nonblank = await page.evaluate(() => {
    const c = document.querySelector('#charts canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  check(nonblank > 500, `the req/s chart has ink (${nonblank} pixels)`);
  await until('the ini shows', async () => (await page.locator('#v-ini').textContent()).includes('http-socket'));
  await until('workers listed', async () => (await page.locator('#v-workers tr').count()) >= 1);

  // ---- reload: new worker pids, and the event ----
  const before = (await getJSON('/api/vassals/alpha')).worker_pids;
  await page.click('#v-actions button[data-action="reload"]');
  await page.click('#confirm-ok');
  await until('the page shows the new worker pids', async () => (await page.locator('#v-result').textContent()).includes('→'), 30000);
  const after = (await getJSON('/api/vassals/alpha')).worker_pids;
  check(after.length > 0 && after.every((p) => !before.includes(p)), `reload changed the workers: ${before} → ${after}`);
  await page.click('#ranges button:has-text("1h")');
  await until('the reload is in the events list', async () => (await page.locator('#v-events').textContent()).includes('reload'), 15000);
  ok('the reload event is listed');
  await page.screenshot({ path: `${shots}/vassal.png`, fullPage: true });

  // ---- refused: no CSRF token, a foreign Origin; nothing changes ----
  const { csrf } = await getJSON('/api/session');
  const post = (path, headers) => fetch(base + path, { method: 'POST', headers });
  let res = await post('/api/vassals/beta/stop', { Origin: base });
  check(res.status === 403, 'a POST without the CSRF token: 403');
  res = await post('/api/vassals/beta/stop', { Origin: 'http://evil.example', 'X-CSRF-Token': csrf });
  check(res.status === 403, 'a POST from a foreign Origin: 403');
  res = await post('/api/vassals/beta/stop', { 'X-CSRF-Token': csrf });
  check(res.status === 403, 'a POST without Origin: 403');
  res = await fetch(base + '/api/vassals/beta/stop', { headers: { Origin: base, 'X-CSRF-Token': csrf } });
  check(res.status === 404 || res.status === 405, 'a GET cannot act: ' + res.status);
  await new Promise((r) => setTimeout(r, 1500));
  check((await getJSON('/api/vassals/beta')).state === 'running', 'beta still runs after the refused requests');
  // From the page's own origin but in another page's script: no token to read (no CORS).
  const cross = await page.evaluate(async () => {
    try { const r = await fetch('http://localhost:1/'); return r.status; } catch { return 'blocked'; }
  });
  check(cross === 'blocked', 'connect-src keeps the page to its own origin');

  // ---- stop, from the fleet table ----
  await page.goto(base + '/');
  await page.waitForSelector('tr[data-vassal="beta"]');
  await page.selectOption('select[data-vassal="beta"]', 'stop');
  await page.click('#confirm-ok');
  await until('the result is shown', async () => (await page.locator('#fleet-result').textContent()).includes("stopping 'beta'"));
  await until('beta stopped', async () => (await getJSON('/api/vassals/beta')).state === 'stopped', 20000);
  await until('the table says stopped', async () =>
    (await page.locator('tr[data-vassal="beta"] td').nth(1).textContent()) === 'stopped');
  ok('a stop click stops the vassal');

  // ---- hostile text in an ini and in the address ----
  await page.goto(base + '/#/v/evil');
  await until('the hostile ini line shows as text', async () => (await page.locator('#v-ini').textContent()).includes(HOSTILE));
  ok('a hostile line of an ini shows as text');
  await page.goto(base + '/#/v/' + encodeURIComponent(HOSTILE));
  await until('a hostile name in the address shows as text', async () => (await page.locator('#v-name').textContent()) === HOSTILE);
  ok('a hostile name in the address shows as text');
  check((await page.locator('img').count()) === 0, 'still no <img> element');

  // ---- the log tail: live, across rotations, hostile lines as text ----
  await page.goto(base + '/#/v/applog');
  await until('the log tail is live', async () => (await page.locator('#v-log-state').textContent()) === 'live');
  await until('the log shows its last lines', async () => (await page.locator('#v-log').textContent()).includes('ready'));
  const logText = () => page.locator('#v-log').textContent();
  const tag = Date.now().toString(36);
  await rawGet(`/live-${tag}`);
  await until('a new line shows without a reload', async () => (await logText()).includes(`/live-${tag}`));
  ok('a new log line shows live');
  const rotatedBefore = backups();
  let n = 0;
  while (backups() === rotatedBefore && n < 200) await rawGet(`/rot-${tag}-${++n}-${'x'.repeat(60)}`);
  check(backups() > rotatedBefore, `the log rotated after ${n} requests`);
  await rawGet(`/after-${tag}`);
  await until('the line after the rotation shows', async () => (await logText()).includes(`/after-${tag}`));
  const shown = await logText();
  const missing = [];
  for (let i = 1; i <= n; i++) if (!shown.includes(`/rot-${tag}-${i}-`)) missing.push(i);
  check(missing.length === 0, `every line across the rotation shows (${n} lines; missing: ${missing.join(',')})`);
  const evil = '<script>window.pwned=1</script><img/src=x/onerror=alert(1)>'; // no space: a request line
  await rawGet('/' + evil);
  await until('the hostile log line shows', async () => (await logText()).includes(evil));
  check(await page.evaluate(() => document.querySelectorAll('#v-log *').length === 0 && window.pwned === undefined),
    'a hostile log line shows as text: no element made, no script run');

  // ---- a phone ----
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + '/');
  await page.waitForSelector('tr[data-vassal="alpha"]');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the phone width does not scroll sideways (${overflow} px)`);
  await page.screenshot({ path: `${shots}/phone.png`, fullPage: true });

  check(problems.length === 0, 'no dialog, script error or hostile request: ' + problems.join('; '));
} catch (e) {
  failed = true;
  console.error('FAIL: ' + e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
