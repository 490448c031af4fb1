/**
 * The admin page on a phone (390 px wide, headless Chromium) against the real sidecar, with
 * WhatsApp unreachable: its WebSocket URL is a closed loopback port, so every connection attempt
 * fails the way a machine without internet does (Baileys reports 408). Checks that nothing is
 * wider than the viewport with every table filled, that the page says plainly WhatsApp is
 * unreachable and what to check, and that the sign-in page says where the development password is.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/chromium.js';
import { freePort } from './support/free-port.js';
import { expectText } from './support/page-expect.js';
import { measureWidth } from './support/page-width.js';
import { TEST_OUTPUT } from './support/sidecar-process.js';
import { startStack, type Stack } from './support/stack.js';

const SCREENSHOTS = path.join(TEST_OUTPUT, 'screenshots');
const PHONE = { width: 390, height: 844 };
const NAME = 'admin-page-phone';
const LOG_DIR = path.join(TEST_OUTPUT, 'logs');
const sidecarLog = () => readFileSync(path.join(LOG_DIR, `${NAME}.sidecar.log`), 'utf8');

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  mkdirSync(LOG_DIR, { recursive: true });
  for (const f of readdirSync(LOG_DIR).filter((f) => f.startsWith(`${NAME}.`))) rmSync(path.join(LOG_DIR, f), { force: true }); // this run's lines only
  const closedPort = await freePort(); // nothing listens here: WhatsApp "cannot be reached"
  [stack, browser] = await Promise.all([
    startStack({ name: NAME, env: { WHATSAPP_WS_URL: `ws://127.0.0.1:${closedPort}/ws/chat` } }),
    launchChromium(),
  ]);
  context = await browser.newContext({ viewport: PHONE, baseURL: stack.sidecar.url });
  context.setDefaultTimeout(8_000);
  page = await context.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  // Loopback only.
  await page.route('**/*', (route) =>
    route.request().url().startsWith('http://127.0.0.1:') || route.request().url().startsWith('data:') ? route.continue() : route.abort(),
  );
}, 60_000);
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.dispose();
});

const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `admin-phone-${name}.png`), fullPage: true });

async function expectFits(name: string): Promise<void> {
  const report = await measureWidth(page);
  if (report.outside.length > 0 || report.scrollWidth > PHONE.width) await shot(`${name}-overflow`);
  expect(report.viewport).toBe(PHONE.width);
  expect(report.measured).toBeGreaterThan(10);
  expect(report.outside).toEqual([]);
  expect(report.scrollWidth).toBeLessThanOrEqual(PHONE.width);
}

test('the sign-in page says where the development password is, without showing it, and fits', async () => {
  await page.goto('/whatsapp');
  await page.getByLabel('Admin password').waitFor({ state: 'visible' });
  const help = await page.locator('#signin-help').innerText();
  expect(help).toContain('.data/dev-secrets.json');
  expect(help).toContain('npm start');
  expect(help).toContain('WHATSAPP_ADMIN_PASSWORD');
  expect(await page.content()).not.toContain(stack.adminPassword);
  await expectFits('sign-in');
});

test('signed in with every table filled: nothing is wider than 390 px', async () => {
  // Long but legal values: a 64-character username and key name, 15-digit numbers, an error text.
  const longName = 'operations-desk-overnight-alerts-for-the-futures-book-0123456789';
  expect(longName).toHaveLength(64);
  expect((await stack.admin('POST', 'users', { username: longName, phone: '+44 7700 900123' })).status).toBe(200);
  expect((await stack.admin('POST', 'keys', { name: longName })).status).toBe(200);
  const sent = await stack.notify({
    apikey: stack.apiKey,
    phones: ['919876543210', '447700900123', '12025550143'],
    message: 'queued while offline',
  });
  expect(sent.status).toBe(200);
  const cancelled = await stack.notify({ apikey: stack.apiKey, phone: '919876543211', message: 'to be cancelled' });
  expect((await stack.admin('POST', `queue/${String(cancelled.body.id)}/cancel`)).status).toBe(200);

  await page.getByLabel('Admin password').fill(stack.adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await expectText(page.locator('#queue-table tbody'), /\+12025550143/);
  await expectText(page.locator('#recent-table tbody'), /cancelled by admin/);
  await expectText(page.locator('#users-table tbody'), /operations-desk/);
  await expectText(page.locator('#keys-table tbody'), /operations-desk/);
  // The new key's box (a long monospace value) is on screen too.
  await page.getByLabel('Name of the new key').fill('phone-key');
  await page.getByRole('button', { name: 'Create key' }).click();
  await page.getByLabel('New API key').waitFor({ state: 'visible' });
  await shot('tables');
  await expectFits('tables');
});

test("the pairing-code form refuses a number without its country code, in the API's words", async () => {
  await page.getByLabel(/link by phone number/).fill('98765 43210');
  await page.getByRole('button', { name: 'Get pairing code' }).click();
  await expectText(
    page.locator('#action-result'),
    /^phone 9876543210 is not a possible number for \+98 \(IR\); include the country code, e.g\. 919876543210$/,
  );
});

test('WhatsApp unreachable: after "Pair with a QR code" the page says so plainly and what to check', async () => {
  const unreachable = /^WhatsApp is unreachable: this machine could not connect to WhatsApp\. Check its internet connection/;
  // The order a loaded machine produced in CI: the stream pushes the 408 before the answer to 'Pair'
  // arrives. Held here until the page shows the pushed 408, so that order is the one tested.
  let answerHeld = false;
  await page.route('**/whatsapp/api/pair', async (route) => {
    const response = await route.fetch();
    await expectText(page.locator('#state-text'), unreachable, 45_000);
    answerHeld = true;
    await route.fulfill({ response });
  });
  await page.getByRole('button', { name: 'Pair with a QR code' }).click();
  await expectText(
    page.locator('#state-text'),
    unreachable,
    45_000, // Baileys reports 408 only when its own connect attempt gives up (about 15 s on a quiet machine)
  );
  // The answer has been drawn once the button is no longer busy.
  await page.locator('#pair-qr:not([aria-busy])').waitFor({ state: 'attached' });
  await page.unroute('**/whatsapp/api/pair');
  expect(answerHeld).toBe(true);
  expect(await page.locator('#state-text').innerText()).toContain('web.whatsapp.com');
  await expectText(page.locator('#action-result'), /No QR code or pairing code: WhatsApp is unreachable/);
  await expectText(page.locator('#last-disconnect'), /code 408/);
  await shot('unreachable');
  await expectFits('unreachable');

  // The same by pairing code: no "it appears as soon as WhatsApp sends it".
  await page.getByLabel(/link by phone number/).fill('+91 98765 43210');
  await page.getByRole('button', { name: 'Get pairing code' }).click();
  await expectText(page.locator('#action-result'), /WhatsApp is unreachable/, 45_000);
  // And once the request itself has answered (the button is enabled again), still that.
  await page.getByRole('button', { name: 'Get pairing code' }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
  await expectText(page.locator('#action-result'), /WhatsApp is unreachable/);
  expect(await page.locator('#action-result').innerText()).not.toContain('as soon as WhatsApp sends it');
}, 180_000);

test("Baileys' DANGER: DISABLING ALL SYNC warning, logged on every socket it opens, is not in the sidecar's log", () => {
  // The pairing attempts above opened sockets (each closed with 408); before the fix each left the line at warn.
  const log = sidecarLog();
  expect(log).toMatch(/"code":408,.*"msg":"WhatsApp connection closed"/);
  expect(log).not.toContain('DISABLING ALL SYNC');
});
