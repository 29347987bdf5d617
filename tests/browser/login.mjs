// The dashboard behind --http-auth in headless Chromium: the page asks for a login, refuses a
// wrong password, shows the fleet after the right one, and an action works with the session;
// run by tests/integration/test-dashboard-auth.sh.
//   node tests/browser/login.mjs BASE_URL USER PASSWORD SHOT_DIR
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const [base, user, password, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const ok = (what) => console.log('  ok: ' + what);
let failed = false;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.waitForSelector('#login:not([hidden])');
  if (!(await page.locator('#fleet').isHidden())) throw new Error('the fleet shows without a login');
  ok('the page asks for a login and shows no fleet');
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', 'wrong');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0);
  ok('a wrong password is refused: ' + (await page.locator('#login-error').textContent()));
  await page.fill('input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('tr[data-vassal="app"]', { timeout: 15000 });
  ok('logged in: the fleet shows');
  const cookies = await page.context().cookies();
  const c = cookies.find((x) => x.name === 'emperor_session');
  if (!c || !c.httpOnly || c.sameSite !== 'Strict') throw new Error('session cookie: ' + JSON.stringify(c));
  ok('the session cookie is HttpOnly and SameSite=Strict');
  await page.screenshot({ path: `${shots}/login-fleet.png` });
  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])');
  ok('log out: the login form again');
} catch (e) {
  failed = true;
  console.error('FAIL: ' + e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
