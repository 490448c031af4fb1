/**
 * Hot standby: two sidecars on one session (same storage and secrets, different WHATSAPP_SIDECAR_ID),
 * each reaching Azurite through its own TCP proxy so one can be cut off alone; one function instance
 * configured with both URLs. With a 3 s lease:
 * - the standby says so (admin status, /readyz) and names the holder; a send that reaches it queues;
 * - kill -9 of the holder mid-burst: the standby is open within lease + 5 s, nothing answered is
 *   lost or shown twice, and the peer never sees two sockets logged in at once;
 * - the holder cut off from storage mid-burst: it closes its socket before its lease runs out (the
 *   same peer count proves it), the standby takes over, and again nothing is lost or doubled.
 * Takeover times are printed (and written to the chaos report); the bound asserted is the issue's
 * functional requirement, lease + 5 s, not a speed goal.
 */
import { azuriteConnectionString } from '../shared/config.js';
import { chaosScenario, type ChaosCounts } from './support/chaos-burst.js';
import { freePort } from './support/free-port.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { sidecarProcess, type SidecarProcess } from './support/sidecar-process.js';
import type { FunctionInstance } from './support/stack.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const LEASE_MS = 3_000;
const TAKEOVER_BOUND_MS = LEASE_MS + 5_000;
const CONTACTS = ['919876543210', '919876543211', '447700900123'];

let stack: PairedStack;
let proxyA: TcpProxy;
let proxyB: TcpProxy;
let a: SidecarProcess;
let b: SidecarProcess;
let fn: FunctionInstance;

beforeAll(async () => {
  // Paired once with the default lease (the first login generates and uploads pre-keys, which stalls
  // a loaded machine for seconds), then run with the short one, as a production sidecar would be.
  stack = await startPairedStack({
    name: 'standby-a',
    env: { WHATSAPP_SEND_BUDGET: 'off', WHATSAPP_SEND_INTERVAL_MS: '0' },
    sidecarEnv: async (azurite) => {
      proxyA = await startTcpProxy(azurite.port);
      return { WHATSAPP_SIDECAR_ID: 'sidecar-a', WHATSAPP_TABLES_CONNECTION: azuriteConnectionString(proxyA.port) };
    },
  });
  for (const c of CONTACTS) stack.peer.addContact(c);
  await stack.sidecar.stop();
  stack.env.WHATSAPP_SESSION_LEASE = '3s';
  a = sidecarProcess({
    env: { ...stack.env, WHATSAPP_SIDECAR_ID: 'sidecar-a', WHATSAPP_TABLES_CONNECTION: azuriteConnectionString(proxyA.port) },
    port: Number(stack.env.WHATSAPP_SIDECAR_PORT),
    name: 'standby-a',
  });
  await a.start();
  await waitStatus(a.url, (s) => s.state === 'open', 20_000);
  proxyB = await startTcpProxy(stack.azurite.port);
  const portB = await freePort();
  b = sidecarProcess({
    env: { ...stack.env, WHATSAPP_SIDECAR_ID: 'sidecar-b', WHATSAPP_TABLES_CONNECTION: azuriteConnectionString(proxyB.port) },
    port: portB,
    name: 'standby-b',
  });
  await b.start();
  fn = await stack.startFunctionInstance({
    WHATSAPP_SIDECAR_URL: `ws://127.0.0.1:${stack.env.WHATSAPP_SIDECAR_PORT}/ws, ws://127.0.0.1:${portB}/ws`,
  });
}, 90_000);
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await stack?.dispose();
  await proxyA?.close(); // after the sidecars: they still write while stopping
  await proxyB?.close();
});

type Status = Record<string, unknown>;
const statusOf = async (url: string): Promise<Status> => {
  const res = await fetch(`${url}/whatsapp/api/status`, { headers: { Authorization: `Bearer ${stack.adminPassword}` } });
  return (await res.json()) as Status;
};
const waitStatus = async (url: string, ok: (s: Status) => boolean, timeoutMs: number): Promise<Status> => {
  const deadline = Date.now() + timeoutMs;
  let last: Status = {};
  while (Date.now() < deadline) {
    last = await statusOf(url).catch(() => ({}));
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`status never matched; last ${JSON.stringify(last)}`);
};
const send = (i: number, text: string) =>
  stack.notify({ apikey: stack.apiKey, phone: CONTACTS[i % CONTACTS.length], message: text }, { url: fn.url });

test('the standby says so and names the holder; a send that reaches it is queued, not sent by it', async () => {
  const standby = await waitStatus(b.url, (s) => s.standby === true && s.holder === 'sidecar-a', 15_000);
  expect(standby.state).toBe('paused');
  const holder = await statusOf(a.url);
  expect(holder.state).toBe('open');
  expect(holder.standby).toBeUndefined();
  expect(holder.holder).toBeUndefined();

  const readyB = await fetch(`${b.url}/readyz`);
  expect(readyB.status).toBe(503);
  expect(await readyB.json()).toMatchObject({
    status: 'standby',
    holder: 'sidecar-a',
    reasons: [expect.stringContaining('sidecar-a holds')],
  });
  expect((await fetch(`${a.url}/readyz`)).status).toBe(200);

  // The function with both URLs finds the holder: a wait_for_delivery is sent, not deferred.
  const viaBoth = await stack.notify(
    { apikey: stack.apiKey, phone: CONTACTS[0], message: 'through the holder', wait_for_delivery: true },
    { url: fn.url },
  );
  expect(viaBoth.status).toBe(200);
  expect(viaBoth.body.deferred).toBeUndefined();
  expect((viaBoth.body.data as { sent: string[] }).sent).toEqual([`${CONTACTS[0]}@s.whatsapp.net`]);

  // A function that knows only the standby: it queues (deferred) and the holder sends it.
  const onlyB = await stack.startFunctionInstance({ WHATSAPP_SIDECAR_URL: `ws://127.0.0.1:${new URL(b.url).port}/ws` });
  const viaStandby = await stack.notify({ apikey: stack.apiKey, phone: CONTACTS[1], message: 'reached the standby' }, { url: onlyB.url });
  expect(viaStandby.status).toBe(200); // deferred: a standby queues, it does not send
  expect(viaStandby.body.deferred).toBe(true);
  await stack.peer.waitForMessage((m) => m.text === 'reached the standby', 20_000);
  expect(stack.peer.stats.currentLogins).toBe(1);
}, 60_000);

/** What every takeover must show: nothing lost or doubled, one socket at a time, open within the bound, then deliveries. */
function expectCleanTakeover(counts: ChaosCounts, openMs: number | undefined, firstMs: number | undefined): void {
  expect(counts.lostTexts).toEqual([]);
  expect(counts.duplicated).toBe(0);
  expect(counts.unansweredSentTwice).toBe(0);
  expect(stack.peer.stats.maxLogins).toBe(1);
  expect(openMs).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
  expect(firstMs).toBeDefined();
}

test('kill -9 the holder mid-burst: the standby takes over within lease + 5 s, nothing lost or doubled, never two sockets', async () => {
  stack.peer.stats.maxLogins = stack.peer.stats.currentLogins;
  let openMs: number | undefined;
  let firstMs: number | undefined;
  const { counts } = await chaosScenario({
    scenario: 'kill -9 holder, standby takes over',
    prefixBase: 'standby-kill',
    peer: stack.peer,
    send,
    breakIt: async () => {
      const killedAt = Date.now();
      await a.stop({ crash: true });
      // What the dead holder had already written to its socket may still reach the peer: count the
      // new holder's deliveries from when the peer saw the old socket go.
      await stack.peer.waitFor(() => stack.peer.stats.currentLogins === 0, 10_000);
      const goneAt = Date.now();
      await waitStatus(b.url, (s) => s.state === 'open', TAKEOVER_BOUND_MS + 20_000);
      openMs = Date.now() - killedAt;
      const first = await stack.peer.waitForMessage((m) => m.at >= goneAt, 60_000);
      firstMs = first.at - killedAt;
    },
    timeoutMs: 90_000,
    extra: () => ({ takeoverOpenMs: openMs, takeoverFirstDeliveryMs: firstMs, maxSockets: stack.peer.stats.maxLogins }),
  });
  expectCleanTakeover(counts, openMs, firstMs);
  expect(stack.peer.stats.pairings).toBe(1);

  // The old holder, restarted, is now the standby.
  await a.start();
  await waitStatus(a.url, (s) => s.standby === true && s.holder === 'sidecar-b', 15_000);
}, 180_000);

test('the holder cut off from storage mid-burst closes its socket before its lease runs out; the standby takes over', async () => {
  expect((await statusOf(b.url)).state).toBe('open');
  stack.peer.stats.maxLogins = stack.peer.stats.currentLogins;
  let openMs: number | undefined;
  let firstMs: number | undefined;
  let closedMs: number | undefined;
  const { counts } = await chaosScenario({
    scenario: 'holder cut from storage, standby takes over',
    prefixBase: 'standby-cut',
    peer: stack.peer,
    send,
    breakIt: async () => {
      const cutAt = Date.now();
      await proxyB.cut();
      await stack.peer.waitFor(() => stack.peer.stats.currentLogins === 0, TAKEOVER_BOUND_MS + 20_000);
      const closedAt = Date.now();
      closedMs = closedAt - cutAt;
      await waitStatus(a.url, (s) => s.state === 'open', TAKEOVER_BOUND_MS + 20_000);
      openMs = Date.now() - cutAt;
      const first = await stack.peer.waitForMessage((m) => m.at >= closedAt, 60_000);
      firstMs = first.at - cutAt;
    },
    afterBurst: async () => {
      await proxyB.restore();
    },
    timeoutMs: 90_000,
    extra: () => ({ takeoverOpenMs: openMs, takeoverFirstDeliveryMs: firstMs, maxSockets: stack.peer.stats.maxLogins }),
  });
  console.log(JSON.stringify({ cutToSocketClosedMs: closedMs }));
  expectCleanTakeover(counts, openMs, firstMs);

  // Storage back: the partitioned sidecar rejoins as the standby and stays off WhatsApp.
  await waitStatus(b.url, (s) => s.standby === true && s.holder === 'sidecar-a', 20_000);
  expect(stack.peer.stats.currentLogins).toBe(1);
}, 180_000);
