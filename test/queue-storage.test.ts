/**
 * The queue engine's storage costs and history (docs/storage-layout.md), counted at a proxy in
 * front of Azurite: every query on the per-notification and idle paths names its PartitionKey;
 * finished notifications go after WHATSAPP_HISTORY by whole partitions (404 past history);
 * getMessage is answered from the queue; with pacing off several recipients are in flight at once.
 */
import { hashApiKey } from '../shared/api-keys.js';
import { idempotencyDay } from '../shared/idempotency-layout.js';
import { azuriteConnectionString } from '../shared/config.js';
import { createTableStore, getEntityOrUndefined } from '../shared/table-store.js';
import { createLogger } from '../shared/logger.js';
import { messageIdFor, parseMessageId } from '../shared/message-ids.js';
import { createNotificationQueue, newNotificationId, partitionOf } from '../shared/notification-queue.js';
import { createQueuedMessageLookup } from '../sidecar/queued-message-lookup.js';
import { startStorageRequestCounter, type CountedRequest, type StorageRequestCounter } from './support/storage-request-counter.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';

let proxy: StorageRequestCounter;
/** Queries that name no PartitionKey: on Azure, a scan of every partition. */
const unbounded = () => proxy.requests.filter((r) => r.kind === 'query-no-pk');
const isRead = (r: CountedRequest) => r.kind === 'point-read' || r.kind === 'pk-query' || r.kind === 'query-no-pk';
const CONTACT = '919876543210';
let stack: PairedStack;

beforeAll(async () => {
  stack = await startPairedStack({
    name: 'queue-storage',
    storageVia: async (port) => (proxy = await startStorageRequestCounter(port)).port,
    env: { WHATSAPP_SEND_BUDGET: 'off', WHATSAPP_SEND_INTERVAL_MS: '0', WHATSAPP_HISTORY: '2s' },
  });
  stack.peer.addContact(CONTACT);
}, 60_000);
afterAll(async () => {
  await stack.dispose();
  await proxy.close();
});

const status = (id: string) => fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${id}`, { headers: { 'X-API-KEY': stack.apiKey } });
const until = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

test('sending, receipts and the idle loop make no query without a PartitionKey', async () => {
  proxy.reset();
  const n = 10;
  for (let i = 0; i < n; i++) {
    const res = await stack.notify({ apikey: stack.apiKey, phone: CONTACT, message: `bounded-${i}`, wait_for_delivery: true });
    expect(res.status).toBe(200);
  }
  for (let i = 0; i < n; i++)
    expect((await stack.notify({ apikey: stack.apiKey, phone: CONTACT, message: `bounded-ff-${i}` })).status).toBe(200);
  await until('all delivered', () => stack.peer.received.filter((m) => m.text?.startsWith('bounded-')).length >= 2 * n);
  // Idle: the worker polls the small `open` index, the lease renews; nothing scans.
  await new Promise((r) => setTimeout(r, 6_000));
  expect(unbounded()).toEqual([]);
  const queueRequests = proxy.requests.filter((r) => r.table === 'WhatsappNotificationQueue');
  // No read-back: the only queue reads are of the indexes (the `open` poll, the history sweep,
  // every second here as WHATSAPP_HISTORY is 2s), never of the rows just written.
  const reads = queueRequests.filter(isRead);
  expect(reads.filter((r) => !['open', 'hist', 'readyz-probe'].includes(r.partition ?? ''))).toEqual([]);
  // Old engine: 13 per wait_for_delivery notification. Now: the insert, one outcome write, receipts
  // (group-committed), index reads; generous, the point is that it does not grow with history.
  expect(queueRequests.length / (2 * n)).toBeLessThan(6);
}, 90_000);

test('finished notifications go after WHATSAPP_HISTORY, by whole partitions; the status route says so', async () => {
  // A finished notification in a partition from an hour ago, as the function's offline path and a
  // finished send would have left it.
  const queue = createNotificationQueue(stack.tables);
  const hourAgo = Date.now() - 3_600_000;
  const id = newNotificationId(hourAgo);
  const apiKeyHash = hashApiKey(stack.env.WHATSAPP_API_KEY_PEPPER!, stack.apiKey);
  const inserted = await queue.enqueue({
    id,
    apiKeyHash,
    createdAt: hourAgo,
    expiresAt: hourAgo + 60_000,
    skipped: 0,
    waitForDelivery: false,
    recipients: [{ kind: 'phone', phone: CONTACT }],
    content: { message: 'old news' },
  });
  expect(await queue.save({ ...inserted.rows[0]!, state: 'sent' })).toBeDefined();
  expect((await status(id)).status).toBe(200);
  proxy.reset();
  // The sidecar finds it through the open index, retires the partition, and the sweep removes it.
  await until('the old notification to be removed', async () => (await status(id)).status === 404, 30_000);
  const gone = (await (await status(id)).json()) as { message: string };
  expect(gone.message).toMatch(/past the history window/);
  expect(gone.message).toMatch(/2s/);
  expect(await queue.get(id)).toBeUndefined();
  expect((await queue.openPartitions()).map((p) => p.partition)).not.toContain(partitionOf(id));
  expect(unbounded()).toEqual([]);
  // A recent one is still there.
  const fresh = await stack.notify({ apikey: stack.apiKey, phone: CONTACT, message: 'fresh news', wait_for_delivery: true });
  expect((await status(String(fresh.body.id))).status).toBe(200);
}, 60_000);

test('idempotency records go by whole day partitions after their 24 h', async () => {
  const client = stack.tables.client('idempotency');
  const old = idempotencyDay(Date.now() - 3 * 86_400_000);
  const today = idempotencyDay(Date.now());
  await client.upsertEntity({ partitionKey: old, rowKey: 'h~old', state: 'done', notificationId: 'x', createdAt: 0, expiresAt: 1 });
  await client.upsertEntity({
    partitionKey: today,
    rowKey: 'h~today',
    state: 'done',
    notificationId: 'y',
    createdAt: Date.now(),
    expiresAt: Date.now() + 86_400_000,
  });
  await until('the old day to be removed', async () => (await getEntityOrUndefined(client, old, 'h~old')) === undefined, 30_000);
  expect(await getEntityOrUndefined(client, today, 'h~today')).toBeDefined();
}, 40_000);

test('getMessage after a restart: a retry request is answered from the queue by the message id alone', async () => {
  const res = await stack.notify({ apikey: stack.apiKey, phone: CONTACT, message: 'retry me later', wait_for_delivery: true });
  expect(res.status).toBe(200);
  const id = String(res.body.id);
  const messageId = messageIdFor(id, 0, 0);
  // The phone got it under that id: the id is fixed by the notification, not chosen at send time.
  expect(stack.peer.received.find((m) => m.text === 'retry me later')?.id).toBe(messageId);
  expect(parseMessageId(messageId)).toEqual({ notificationId: id, recipient: 0, part: 0 });
  // A fresh lookup (as after a restart: nothing in memory) reads it back with one point read.
  proxy.reset();
  // Through the counting proxy, as the sidecar's own table client goes.
  const lookup = createQueuedMessageLookup({
    queue: createNotificationQueue(createTableStore(azuriteConnectionString(proxy.port))),
    log: createLogger({ level: 'silent', name: 'test' }),
  });
  expect(await lookup(messageId)).toEqual({ extendedTextMessage: { text: 'retry me later' } });
  expect(await lookup(messageIdFor(id, 3, 0))).toBeUndefined(); // no such recipient
  expect(await lookup('3EB0AAAAAAAAAAAAAAAAAAAA')).toBeUndefined(); // not one of ours
  // The lookup's reads (the sidecar's index polls of `open` and `hist`, and its outcome and receipt
  // writes for the send above, may fall in this window too).
  const lookups = proxy.requests.filter(
    (r) => r.table === 'WhatsappNotificationQueue' && isRead(r) && !['open', 'hist'].includes(r.partition ?? ''),
  );
  expect(lookups.length).toBeGreaterThan(0);
  expect(lookups.every((r) => r.kind === 'point-read')).toBe(true);
});

test('with pacing off, several recipients are in flight at once', async () => {
  // With acks held back, a one-at-a-time sender would hand WhatsApp one message and wait (30 s).
  stack.peer.dropAcks(true);
  try {
    const contacts = ['919876543220', '919876543221', '919876543222', '919876543223'];
    for (const c of contacts) stack.peer.addContact(c);
    const res = await stack.notify({ apikey: stack.apiKey, phones: contacts, message: 'all at once' });
    expect(res.status).toBe(200);
    await until(
      'every recipient handed over before any ack',
      () => stack.peer.received.filter((m) => m.text === 'all at once').length >= contacts.length,
      15_000,
    );
  } finally {
    stack.peer.dropAcks(false);
  }
}, 30_000);
