/**
 * The reconnect policy by disconnect reason, against the real Baileys client in the sidecar and the
 * loopback peer: 515 at once; a dropped connection with backoff; 440 and 403 stop and say why (no
 * loop); 405 refreshes the WhatsApp Web version (from a loopback address) and reconnects; 401 wipes
 * the session while the queue keeps waiting. And a restart keeps the session without re-pairing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';

let stack: PairedStack;
let versionServer: http.Server;
let versionHits = 0;

beforeAll(async () => {
  // Stands in for https://web.whatsapp.com/sw.js: nothing leaves loopback.
  versionServer = http.createServer((_req, res) => {
    versionHits++;
    res.end('self.__swData=JSON.parse(/*BTDS*/"{\\"client_revision\\":1027934701,\\"other\\":1}");');
  });
  await new Promise<void>((r) => versionServer.listen(0, '127.0.0.1', () => r()));
  const port = (versionServer.address() as AddressInfo).port;
  stack = await startPairedStack({
    name: 'reconnect-policy',
    env: { WHATSAPP_WEB_VERSION_URL: `http://127.0.0.1:${port}/sw.js`, WHATSAPP_SEND_BUDGET: 'off' },
  });
  stack.peer.addContact('919876543210');
}, 60_000);
afterAll(async () => {
  await stack.dispose();
  await new Promise<void>((r) => versionServer.close(() => r()));
});

const status = async () =>
  (await stack.admin('GET', 'status')).body as { state: string; last_disconnect?: { code?: number; reason: string } };
const waitFor = async (ok: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; status ${JSON.stringify(await status())}`);
};
/** Fails if the sidecar logs in again during `ms` (a reconnect loop). */
const expectNoLoginsFor = async (ms: number) => {
  const logins = stack.peer.stats.logins;
  const connections = stack.peer.stats.connectionsOpened;
  await new Promise((r) => setTimeout(r, ms));
  expect(stack.peer.stats.logins).toBe(logins);
  expect(stack.peer.stats.connectionsOpened).toBe(connections);
};

test('a session survives a sidecar restart without re-pairing', async () => {
  const pairings = stack.peer.stats.pairings;
  const logins = stack.peer.stats.logins;
  await stack.sidecar.stop();
  await stack.sidecar.start();
  await stack.waitForState('open', 20_000);
  expect(stack.peer.stats.pairings).toBe(pairings);
  expect(stack.peer.stats.logins).toBe(logins + 1);
  const res = await stack.notify({ apikey: stack.apiKey, phone: '919876543210', message: 'after restart', wait_for_delivery: true });
  expect(res.status).toBe(200);
}, 40_000);

test('515 restart required: reconnects at once', async () => {
  const logins = stack.peer.stats.logins;
  const started = Date.now();
  stack.peer.disconnect(515);
  await waitFor(() => stack.peer.stats.logins === logins + 1, 5_000, 'a new login');
  await stack.waitForState('open', 5_000);
  expect(Date.now() - started).toBeLessThan(3_000);
  expect((await status()).last_disconnect?.code).toBe(515);
});

test('connection dropped: reconnects after a backoff', async () => {
  const logins = stack.peer.stats.logins;
  stack.peer.disconnect('drop');
  await waitFor(() => stack.peer.stats.logins === logins + 1, 15_000, 'a new login');
  await stack.waitForState('open', 5_000);
  const s = await status();
  expect(s.last_disconnect?.code).toBe(428);
  expect(s.last_disconnect?.reason).toBe('connection closed');
}, 30_000);

test('440 replaced: paused with the reason, no reconnect loop; connect resumes', async () => {
  stack.peer.disconnect(440);
  await stack.waitForState('paused', 5_000);
  const s = await status();
  expect(s.last_disconnect?.code).toBe(440);
  expect(s.last_disconnect?.reason).toContain('replaced by another session');
  await expectNoLoginsFor(4_000);
  expect((await status()).state).toBe('paused');
  await stack.admin('POST', 'connect');
  await stack.waitForState('open', 10_000);
}, 30_000);

test('403 forbidden: paused with the reason, no reconnect; connect resumes', async () => {
  stack.peer.disconnect(403);
  await stack.waitForState('paused', 5_000);
  const s = await status();
  expect(s.last_disconnect?.code).toBe(403);
  expect(s.last_disconnect?.reason).toContain('forbidden');
  await expectNoLoginsFor(3_000);
  await stack.admin('POST', 'connect');
  await stack.waitForState('open', 10_000);
}, 30_000);

test('405 outdated version: the version is fetched again, then it reconnects', async () => {
  const hits = versionHits;
  const logins = stack.peer.stats.logins;
  stack.peer.disconnect(405);
  await waitFor(() => versionHits === hits + 1, 5_000, 'a version fetch');
  await waitFor(() => stack.peer.stats.logins === logins + 1, 10_000, 'a new login');
  await stack.waitForState('open', 5_000);
  expect((await status()).last_disconnect?.code).toBe(405);
}, 30_000);

test('401 logged out: state logged_out, session wiped, notifications wait in the queue', async () => {
  stack.peer.disconnect(401);
  const started = Date.now();
  // The wipe deletes every stored key row (hundreds: the uploaded pre-keys) before reporting.
  await stack.waitForState('logged_out', 45_000);
  console.log(`logged_out after ${Date.now() - started} ms`);
  const rows: string[] = [];
  for await (const e of stack.tables.client('session').listEntities()) rows.push(String(e.partitionKey));
  expect(rows.filter((pk) => pk === 'creds' || pk === 'keys')).toEqual([]);

  const res = await stack.notify({ apikey: stack.apiKey, phone: '919876543210', message: 'while logged out' });
  expect(res.status).toBe(200);
  expect(res.body.deferred).toBe(true);
  await expectNoLoginsFor(2_000);
  const lookup = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${String(res.body.id)}`, { headers: { 'X-API-KEY': stack.apiKey } });
  const body = (await lookup.json()) as { data: { recipients: { state: string }[] } };
  expect(body.data.recipients.map((r) => r.state)).toEqual(['queued']);
  expect(stack.peer.received.some((m) => m.text === 'while logged out')).toBe(false);
}, 70_000);
