/**
 * The function socket and the admin page can listen apart: WHATSAPP_SIDECAR_HOST may face the
 * function app while the admin page stays on WHATSAPP_ADMIN_HOST (loopback by default).
 */
import { startStack, type Stack } from './support/stack.js';
import { freePort } from './support/free-port.js';

let stack: Stack;
let adminPort: number;
beforeAll(async () => {
  adminPort = await freePort();
  // 127.0.0.2 is loopback too (127.0.0.0/8), so this stays on the machine.
  stack = await startStack({ name: 'admin-listener', env: { WHATSAPP_ADMIN_HOST: '127.0.0.2', WHATSAPP_ADMIN_PORT: String(adminPort) } });
});
afterAll(async () => {
  await stack.dispose();
});

const status = (base: string) => fetch(`${base}/whatsapp/api/status`, { headers: { Authorization: `Bearer ${stack.adminPassword}` } });

test('the admin API is not served on the function-socket listener', async () => {
  expect((await status(stack.sidecar.url)).status).toBe(404);
  expect((await fetch(`${stack.sidecar.url}/whatsapp`)).status).toBe(404);
  expect((await fetch(`${stack.sidecar.url}/healthz`)).status).toBe(200);
});

test('the admin API answers on its own address', async () => {
  const res = await status(`http://127.0.0.2:${adminPort}`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ state: 'unpaired' });
});

test('notifications still reach the sidecar over its socket', async () => {
  const res = await stack.notify({ apikey: stack.apiKey, phone: '919876543210', message: 'split listeners' });
  expect(res.status).toBe(200);
  expect(res.body.deferred).toBe(true);
});

test('wrong Bearer passwords count against the sign-in limit', async () => {
  const base = `http://127.0.0.2:${adminPort}`;
  const codes: number[] = [];
  for (let i = 0; i < 7; i++) {
    const res = await fetch(`${base}/whatsapp/api/status`, { headers: { Authorization: 'Bearer guess-' + i } });
    codes.push(res.status);
  }
  expect(codes.slice(0, 4)).toEqual([401, 401, 401, 401]);
  expect(codes.at(-1)).toBe(429);
});
