/**
 * The sidecar owns the Signal keys while it holds the session lease: they are listed once from the
 * `keys` partition, then served from memory and written through. Counted at a proxy between the
 * real sidecar and Azurite, with real Baileys sending to the loopback peer. Also: onWhatsApp
 * answers are remembered, so repeated sends to one number ask WhatsApp once.
 */
import { readFileSync } from 'node:fs';
import { azuriteConnectionString } from '../shared/config.js';
import { startWhatsAppPeer, type WhatsAppPeer } from './whatsapp-peer/index.js';
import { pairWithPeer, waitForState } from './support/paired-stack.js';
import { startStack, type Stack } from './support/stack.js';
import { startStorageRequestCounter, type CountedRequest, type StorageRequestCounter } from './support/storage-request-counter.js';

let peer: WhatsAppPeer;
let stack: Stack;
let counter: StorageRequestCounter;

beforeAll(async () => {
  peer = await startWhatsAppPeer();
  stack = await startStack({ name: 'session-keys-memory', env: { ...peer.childEnv(), WHATSAPP_WS_URL: peer.url }, startSidecar: false });
  counter = await startStorageRequestCounter(stack.azurite.port);
  stack.env.WHATSAPP_TABLES_CONNECTION = azuriteConnectionString(counter.port); // the sidecar talks to storage through the counter
  await stack.sidecar.start();
  await pairWithPeer(stack, peer);
  peer.addContact('919876543210');
  peer.addContact('919876543211');
  peer.addContact('15550009999', { onWhatsApp: false });
}, 90_000);
afterAll(async () => {
  await stack?.dispose();
  await peer?.close();
  await counter?.close();
});

const send = (body: Record<string, unknown>) => stack.notify({ apikey: stack.apiKey, wait_for_delivery: true, ...body });
const session = (r: CountedRequest) => r.table === 'WhatsappSession';
const keyReads = (r: CountedRequest) =>
  session(r) && r.partition === 'keys' && (r.kind === 'point-read' || r.kind === 'pk-query' || r.kind === 'query-no-pk');
const usyncQueries = () => peer.iqLog.filter((iq) => iq.child === 'usync').length;

test('sends read no Signal key from storage: keys are served from memory and written through', async () => {
  // First contact with a new number: Baileys fetches a pre-key bundle and creates a Signal session.
  const first = await send({ phone: '919876543210', message: 'hello, new contact' });
  expect(first.status).toBe(200);
  counter.reset();
  const texts: string[] = [];
  for (let i = 0; i < 8; i++) {
    texts.push(`keys-${i}`);
    const res = await send({ ...(i % 2 === 0 ? { phone: '919876543210' } : { self: true }), message: `keys-${i}` });
    expect(res.status).toBe(200);
  }
  // a second new contact in the window: its session is created (written) without a read either
  expect((await send({ phone: '919876543211', message: 'keys-new' })).status).toBe(200);
  expect(peer.received.filter((m) => m.text?.startsWith('keys-')).length).toBe(9);

  const sessionRequests = counter.requests.filter(session);
  // the counter does see this sidecar's storage traffic (queue rows, key writes)…
  expect(counter.requests.length).toBeGreaterThan(9);
  expect(sessionRequests.filter((r) => r.partition === 'keys' && (r.kind === 'batch' || r.kind === 'update')).length).toBeGreaterThan(0);
  // …and not one read of the keys partition, nor of the creds row (written on change, never read back)
  expect(counter.requests.filter(keyReads)).toEqual([]);
  expect(sessionRequests.filter((r) => r.partition === 'creds' && r.kind === 'point-read')).toEqual([]);
}, 60_000);

test('after a restart the keys are listed once (one partition-bounded query), and the contact still decrypts', async () => {
  await stack.sidecar.stop();
  counter.reset();
  await stack.sidecar.start();
  await waitForState(stack, 'open', 20_000); // no pairing: creds and keys came back from storage
  const res = await send({ phone: '919876543210', message: 'after restart' });
  expect(res.status).toBe(200);
  expect(res.body.data).toMatchObject({ sent: ['919876543210@s.whatsapp.net'] });
  // the peer decrypted it with the session created before the restart
  expect(peer.received.some((m) => m.to === '919876543210@s.whatsapp.net' && m.text === 'after restart')).toBe(true);
  const reads = counter.requests.filter(keyReads);
  expect(reads.map((r) => r.kind)).toEqual(['pk-query']);
  // the log file holds both runs of the sidecar: the last load is this one's
  const loaded = [
    ...readFileSync(stack.sidecar.logFile, 'utf8').matchAll(
      /"rows":(\d+),"kib":(\d+),"complete":true[^\n]*Signal keys loaded into memory/g,
    ),
  ].at(-1);
  expect(loaded).toBeDefined();
  // 812 one-time pre-keys from pairing, plus sessions and the rest: held whole, well under the bound
  expect(Number(loaded![1])).toBeGreaterThan(800);
  expect(Number(loaded![2])).toBeLessThan(8 * 1024);
}, 60_000);

test('onWhatsApp answers are remembered: repeated sends to one number, or to a missing one, ask WhatsApp once', async () => {
  expect((await send({ phone: '919876543211', message: 'exists warm' })).status).toBe(200);
  const before = usyncQueries();
  for (let i = 0; i < 4; i++) expect((await send({ phone: '919876543211', message: `exists-${i}` })).status).toBe(200);
  expect(usyncQueries()).toBe(before);

  const missing = await send({ phone: '15550009999', message: 'nobody' });
  expect(missing.body.data).toMatchObject({ failed: [{ to: '15550009999@s.whatsapp.net', error: 'not on WhatsApp' }] });
  const afterFirstMiss = usyncQueries();
  expect(afterFirstMiss).toBeGreaterThan(before);
  const again = await send({ phone: '15550009999', message: 'nobody again' });
  expect(again.body.data).toMatchObject({ failed: [{ to: '15550009999@s.whatsapp.net', error: 'not on WhatsApp' }] });
  expect(usyncQueries()).toBe(afterFirstMiss);
}, 60_000);
