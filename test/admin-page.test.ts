/**
 * The /whatsapp admin page in headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against the real sidecar and Azurite. The first part runs with WhatsApp offline; the second
 * pairs with the loopback WhatsApp peer by scanning the QR drawn on the page (decoded from its
 * pixels) and by the pairing code shown on the page. Screenshots land in test-output/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import jsQRModule from 'jsqr';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/chromium.js';
import { expectText, expectCount } from './support/page-expect.js';
import { measureWidth } from './support/page-width.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { TEST_OUTPUT } from './support/sidecar-process.js';

// jsqr is CommonJS: under NodeNext typing its default import is the module object, at run time the function.
type DecodeQr = (rgba: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR = (typeof jsQRModule === 'function' ? jsQRModule : (jsQRModule as { default: DecodeQr }).default) as DecodeQr;

const SCREENSHOTS = path.join(TEST_OUTPUT, 'screenshots');

// One stack for the whole file: wired to the loopback peer but left unpaired (WhatsApp offline)
// for the first part; the second part pairs it.
let stack: PairedStack;
let browser: Browser;
const outsideRequests: string[] = [];
beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  [stack, browser] = await Promise.all([startPairedStack({ name: 'admin-page', pair: false }), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.dispose();
  expect(outsideRequests).toEqual([]);
});

async function openPage(baseUrl: string, viewport = { width: 1024, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl });
  context.setDefaultTimeout(8_000);
  const page = await context.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  // Loopback only: a CDN or any other outside request would be aborted and recorded.
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('http://127.0.0.1:') || url.startsWith('data:')) return route.continue();
    outsideRequests.push(url);
    return route.abort();
  });
  return { context, page };
}

async function signIn(page: Page, password: string): Promise<void> {
  await page.goto('/whatsapp');
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#app-view').waitFor({ state: 'visible' });
}

const shot = (page: Page, name: string, fullPage = true) =>
  page.screenshot({ path: path.join(SCREENSHOTS, `admin-${name}.png`), fullPage });
const badge = (page: Page) => page.locator('#state-badge');

describe('admin page, WhatsApp offline', () => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ({ context, page } = await openPage(stack.sidecar.url));
  });
  afterAll(async () => {
    await context?.close();
  });

  test('sign-in: a wrong password is refused, the right one shows the status (unpaired)', async () => {
    await page.goto('/whatsapp');
    await page.getByLabel('Admin password').waitFor({ state: 'visible' });
    await page.getByLabel('Admin password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.locator('#signin-error'), /Wrong password/);
    await shot(page, 'sign-in');
    await page.getByLabel('Admin password').fill(stack.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(badge(page), /^Not linked$/);
    expect(await page.locator('#pairing').isVisible()).toBe(true);
    // Nothing to connect, pause or unlink before a device is linked.
    expect(await page.locator('#controls-box').isVisible()).toBe(false);
    await shot(page, 'unpaired');
  });

  test('the session cookie is HttpOnly: page script cannot read it', async () => {
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe('');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'wa_admin_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/whatsapp' });
  });

  test('link a user, see it listed, send to it through the API, see it in the queue, cancel and retry it', async () => {
    await page.getByLabel('Username').fill('trader1');
    await page.getByLabel('Phone (with country code)').fill('+91 98765 43210');
    await page.getByRole('button', { name: 'Link user' }).click();
    await expectText(page.locator('#user-result'), /Linked trader1/);
    const row = page.locator('#users-table tbody tr', { hasText: 'trader1' });
    await expectText(row, /\+919876543210/);

    // A bad phone is refused with the API's own words.
    await page.getByLabel('Username').fill('bad');
    await page.getByLabel('Phone (with country code)').fill('0123');
    await page.getByRole('button', { name: 'Link user' }).click();
    await expectText(page.locator('#user-result'), /phone/i);
    expect(await page.locator('#user-result').getAttribute('class')).toMatch(/error/);

    const sent = await stack.notify({ apikey: stack.apiKey, username: 'trader1', message: 'from the page test' });
    expect(sent.status).toBe(200);
    expect(sent.body.deferred).toBe(true);
    const id = String(sent.body.id);
    await page.getByRole('button', { name: 'Refresh' }).click();
    const queued = page.locator('#queue-table tbody tr', { hasText: id.slice(-8) });
    await expectText(queued, /\+919876543210.*queued/s);
    await expectText(page.locator('#queue-summary'), /1 recipient\(s\) waiting/);
    await shot(page, 'queue');

    await queued.getByRole('button', { name: /^Cancel/ }).click();
    await expectText(page.locator('#queue-result'), /Cancelled \(1 recipient/);
    const recent = page.locator('#recent-table tbody tr', { hasText: id.slice(-8) });
    await expectText(recent, /failed.*cancelled by admin/s);
    await expectCount(page.locator('#queue-table tbody tr', { hasText: id.slice(-8) }), 0);

    await recent.getByRole('button', { name: /^Retry/ }).click();
    await expectText(page.locator('#queue-result'), /Queued again \(1 recipient/);
    await expectText(page.locator('#queue-table tbody tr', { hasText: id.slice(-8) }), /queued/);
  });

  test('create a key (shown once, copyable), it works; revoke it and it is refused', async () => {
    await page.getByLabel('Name of the new key').fill('page-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const value = page.getByLabel('New API key');
    await value.waitFor({ state: 'visible' });
    const key = await value.inputValue();
    expect(key.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expectText(page.locator('#key-result'), /Copied/);
    await expectText(page.locator('#keys-table tbody'), /page-key.*never/s);
    await shot(page, 'new-key');

    const withNewKey = await stack.notify({ apikey: key, username: 'trader1', message: 'with the new key' });
    expect(withNewKey.status).toBe(200);
    expect(withNewKey.body.deferred).toBe(true);

    // Shown once: after a reload the key is nowhere on the page, only its name.
    await page.reload();
    await expectText(page.locator('#keys-table tbody'), /page-key/);
    expect(await page.locator('#new-key').isVisible()).toBe(false);
    expect(await page.content()).not.toContain(key);

    await page.getByRole('button', { name: 'Revoke key page-key' }).click();
    await expectText(page.locator('#key-result'), /Revoked "page-key"/);
    await expectCount(page.locator('#keys-table tbody tr', { hasText: 'page-key' }), 0);
    // The function caches valid keys for 30 s; a fresh instance sees the revocation at once.
    const fresh = await stack.startFunctionInstance();
    expect((await stack.notify({ apikey: key, username: 'trader1', message: 'revoked' }, { url: fresh.url })).status).toBe(401);
  });

  test('unlinking a user removes it from the list', async () => {
    await page.getByRole('button', { name: 'Unlink trader1' }).click();
    await expectText(page.locator('#user-result'), /Unlinked trader1/);
    await expectCount(page.locator('#users-table tbody tr', { hasText: 'trader1' }), 0);
  });

  test('refusals: the API without the cookie, a call without the CSRF token, a cross-site page', async () => {
    // Same browser, signed in, but a call that skips the token: 403.
    const noToken = await page.evaluate(async () => (await fetch('/whatsapp/api/disconnect', { method: 'POST' })).status);
    expect(noToken).toBe(403);

    // Another origin (a different port on the same host: same-site for cookies) cannot change anything.
    const evil = await startEvilSite(stack.sidecar.url);
    try {
      await page.goto(evil.url);
      await page.waitForFunction(() => (globalThis as unknown as { done?: boolean }).done === true, undefined, { timeout: 5_000 });
    } finally {
      await new Promise((r) => evil.server.close(r));
    }
    const users = (await stack.admin('GET', 'users')).body.users as { username: string }[];
    expect(users.map((u) => u.username)).not.toContain('evil');

    // A fresh browser without the cookie: the API says 401 and the page asks to sign in.
    const other = await openPage(stack.sidecar.url, { width: 390, height: 844 });
    try {
      const res = await other.page.request.get('/whatsapp/api/status');
      expect(res.status()).toBe(401);
      await other.page.goto('/whatsapp');
      await other.page.getByLabel('Admin password').waitFor({ state: 'visible' });
      expect(await other.page.locator('#app-view').isVisible()).toBe(false);
      await shot(other.page, 'sign-in-phone', false);
    } finally {
      await other.context.close();
    }
  });

  test('sign-out returns to the sign-in form and ends the session', async () => {
    await page.goto('/whatsapp');
    await expectText(badge(page), /Not linked/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin password').waitFor({ state: 'visible' });
    expect(await page.evaluate(async () => (await fetch('/whatsapp/api/status')).status)).toBe(401);
  });
});

describe('admin page, paired with the loopback WhatsApp peer', () => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ({ context, page } = await openPage(stack.sidecar.url, { width: 390, height: 844 }));
  });
  afterAll(async () => {
    await context?.close();
  });

  test('pair by scanning the QR drawn on the page → connected as the number', async () => {
    await signIn(page, stack.adminPassword);
    await expectText(badge(page), /^Not linked$/);
    await page.getByRole('button', { name: 'Pair with a QR code' }).click();
    const img = page.getByRole('img', { name: /QR code/ });
    await img.waitFor({ state: 'visible' });
    await expectText(badge(page), /Pairing/);
    await shot(page, 'pairing-qr');
    const decoded = await decodeQr(page);
    expect(decoded).toBe(String((await stack.admin('GET', 'status')).body.qr));
    await stack.peer.pairWithQr(decoded);
    await expectText(badge(page), /^Connected$/, 15_000);
    await expectText(page.locator('#state-text'), new RegExp(`as \\+${stack.peer.selfPhone}`));
    await expectText(page.locator('#action-result'), /Linked!/);
    expect(await page.locator('#pairing').isVisible()).toBe(false);
    await shot(page, 'connected');
    // 390 px wide: the connection controls (Unlink included) and the tables stay on screen.
    expect(await page.getByRole('button', { name: 'Unlink…' }).isVisible()).toBe(true);
    await expectFitsPhone(page);
  });

  test('pause and connect update the status; the test message reaches the own number', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    await expectText(badge(page), /^Paused$/);
    await expectText(page.locator('#state-text'), /notifications wait in the queue/);
    await shot(page, 'paused');
    await expectFitsPhone(page);
    await page.getByRole('button', { name: 'Connect' }).click();
    await expectText(badge(page), /^Connected$/, 10_000);
    await page.getByRole('button', { name: 'Send test message to self' }).click();
    await expectText(page.locator('#action-result'), /Test message queued/);
    const message = await stack.peer.waitForMessage((m) => (m.text ?? '').includes('wa-notify test message'), 10_000);
    expect(message.text).toContain('the sidecar can send');
  });

  test('unlink (confirmed) logs out; pairing again by code shows the code large, and it links', async () => {
    await page.getByRole('button', { name: 'Unlink…' }).click();
    // Unlink wipes the stored session (hundreds of key rows): allow for a slow table store.
    await expectText(badge(page), /^Logged out$/, 20_000);
    await page.getByLabel(/link by phone number/).fill(`+${stack.peer.selfPhone}`);
    await page.getByRole('button', { name: 'Get pairing code' }).click();
    const code = page.locator('#pairing-code');
    await expectText(code, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/, 15_000);
    await shot(page, 'pairing-code');
    const fontSize = await code.evaluate(
      (el) => (globalThis as unknown as { getComputedStyle(e: unknown): { fontSize: string } }).getComputedStyle(el).fontSize,
    );
    expect(parseFloat(fontSize)).toBeGreaterThanOrEqual(32);
    await stack.peer.pairWithCode((await code.innerText()).replace('-', ''));
    await expectText(badge(page), /^Connected$/, 15_000);
  });
});

/** Nothing wider than the 390 px viewport: the document, and each element's edges. */
async function expectFitsPhone(page: Page): Promise<void> {
  const report = await measureWidth(page);
  expect(report.viewport).toBe(390);
  expect(report.measured).toBeGreaterThan(20);
  expect(report.outside).toEqual([]);
  expect(report.scrollWidth).toBeLessThanOrEqual(390);
}

/** Reads the QR back from the pixels of the <img> the page shows (drawn large on a canvas). */
async function decodeQr(page: Page): Promise<string> {
  const { width, height, rgba } = await page.locator('#qr-img').evaluate(async (el) => {
    type Canvas = {
      width: number;
      height: number;
      getContext(kind: '2d'): {
        fillStyle: string;
        fillRect(...a: number[]): void;
        drawImage(...a: unknown[]): void;
        getImageData(...a: number[]): { data: Uint8ClampedArray };
      };
    };
    const doc = (globalThis as unknown as { document: { createElement(tag: string): Canvas } }).document;
    const img = el as unknown as { decode(): Promise<void> };
    await img.decode();
    const size = 400;
    const canvas = doc.createElement('canvas');
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    ctx.drawImage(img, 0, 0, size, size);
    // Pixels back to the test as base64 (a plain array of numbers would be megabytes of JSON).
    const pixels = ctx.getImageData(0, 0, size, size).data;
    let binary = '';
    for (let i = 0; i < pixels.length; i += 0x8000) binary += String.fromCharCode(...pixels.subarray(i, i + 0x8000));
    return { width: size, height: size, rgba: (globalThis as unknown as { btoa(s: string): string }).btoa(binary) };
  });
  const result = jsQR(new Uint8ClampedArray(Buffer.from(rgba, 'base64')), width, height);
  if (!result) throw new Error('the QR on the page could not be decoded');
  return result.data;
}

/** A page on another origin that tries to change the admin state with the victim's cookie. */
async function startEvilSite(target: string): Promise<{ url: string; server: Server }> {
  const html = `<!doctype html><script>
    fetch(${JSON.stringify(`${target}/whatsapp/api/users`)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ username: 'evil', phone: '15550009999' }) })
      .catch(() => {}).finally(() => { window.done = true; });
  </script>`;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}
