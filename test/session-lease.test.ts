/**
 * One writer per session: two sidecars on the same session (same tables, same secret) never both
 * connect. The second stays paused and says why; it takes over only when the first stops renewing
 * the lease (kill -9), and then sends.
 */
import { freePort } from './support/free-port.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { sidecarProcess, type SidecarProcess } from './support/sidecar-process.js';

let stack: PairedStack;
let second: SidecarProcess;
let secondPort: number;

beforeAll(async () => {
  // Paired with the default lease, then restarted with the short one: the first login after pairing
  // uploads hundreds of pre-keys, which can hold storage up longer than a 3 s lease's fence allows,
  // and the holder would (rightly) drop its socket. A production sidecar is paired once.
  stack = await startPairedStack({
    name: 'session-lease',
    env: { WHATSAPP_SIDECAR_ID: 'sidecar-a', WHATSAPP_SEND_BUDGET: 'off' },
  });
  stack.env.WHATSAPP_SESSION_LEASE = '3s';
  await stack.sidecar.stop();
  await stack.sidecar.start();
  await stack.waitForState('open', 20_000);
  stack.peer.addContact('919876543210');
  secondPort = await freePort();
  second = sidecarProcess({ env: { ...stack.env, WHATSAPP_SIDECAR_ID: 'sidecar-b' }, port: secondPort, name: 'session-lease-b' });
  await second.start();
}, 60_000);
afterAll(async () => {
  await second?.stop();
  await stack.dispose();
});

const statusOf = async (url: string): Promise<Record<string, unknown>> => {
  const res = await fetch(`${url}/whatsapp/api/status`, { headers: { Authorization: `Bearer ${stack.adminPassword}` } });
  return (await res.json()) as Record<string, unknown>;
};

const waitStatus = async (url: string, ok: (s: Record<string, unknown>) => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, unknown> = {};
  while (Date.now() < deadline) {
    last = await statusOf(url);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status never matched; last ${JSON.stringify(last)}`);
};

test('the second sidecar stays paused, says why, and never logs in while the first renews', async () => {
  const b = await waitStatus(second.url, (s) => s.state === 'paused', 10_000);
  expect((b.last_disconnect as { reason: string }).reason).toContain('another sidecar holds the session');
  expect((b.last_disconnect as { reason: string }).reason).toContain('sidecar-a');
  // An admin "connect" on the second one must not get around the lease.
  await fetch(`${second.url}/whatsapp/api/connect`, { method: 'POST', headers: { Authorization: `Bearer ${stack.adminPassword}` } });
  const logins = stack.peer.stats.logins;
  // Longer than two lease periods: the first keeps renewing, the second keeps waiting.
  const until = Date.now() + 7_000;
  while (Date.now() < until) {
    expect(stack.peer.stats.currentLogins).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(stack.peer.stats.logins).toBe(logins);
  expect((await statusOf(stack.sidecar.url)).state).toBe('open');
  expect((await statusOf(second.url)).state).toBe('paused');
}, 30_000);

test('kill -9 the holder: the second takes over when the lease expires, and sends', async () => {
  await stack.sidecar.stop({ crash: true });
  const started = Date.now();
  await waitStatus(second.url, (s) => s.state === 'open', 20_000);
  // Not before the 3 s lease ran out (the killed sidecar could not give it up).
  expect(Date.now() - started).toBeGreaterThan(1_000);
  expect(stack.peer.stats.currentLogins).toBe(1);
  expect(stack.peer.stats.pairings).toBe(1);

  const viaSecond = await stack.startFunctionInstance({ WHATSAPP_SIDECAR_URL: `ws://127.0.0.1:${secondPort}/ws` });
  const res = await stack.notify(
    { apikey: stack.apiKey, phone: '919876543210', message: 'from the second sidecar', wait_for_delivery: true },
    { url: viaSecond.url },
  );
  expect(res.status).toBe(200);
  await stack.peer.waitForMessage((m) => m.text === 'from the second sidecar', 10_000);
}, 40_000);

test('the first, restarted, now waits in turn', async () => {
  await stack.sidecar.start();
  const a = await waitStatus(stack.sidecar.url, (s) => s.state === 'paused', 10_000);
  expect((a.last_disconnect as { reason: string }).reason).toContain('sidecar-b');
  await new Promise((r) => setTimeout(r, 4_000));
  expect(stack.peer.stats.currentLogins).toBe(1);
  expect((await statusOf(second.url)).state).toBe('open');
}, 30_000);
