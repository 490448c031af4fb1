import { startAzurite, type AzuriteHandle } from './support/azurite.js';
import { createTableStore } from '../shared/table-store.js';
import { createApiKeyStore, hashApiKey } from '../shared/api-keys.js';
import { createLinkedUserStore } from '../shared/linked-users.js';
import { createNotificationQueue, newNotificationId, NotificationExists, partitionOf } from '../shared/notification-queue.js';

let azurite: AzuriteHandle;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite.dispose();
});

test('api keys are stored as HMAC hashes and can be revoked', async () => {
  const tables = createTableStore(azurite.connectionString);
  const store = createApiKeyStore(tables, 'pepper-1');
  const { key, record } = await store.create('ci');
  expect(record.hash).toBe(hashApiKey('pepper-1', key));
  expect(await store.findActive(hashApiKey('pepper-1', key))).toMatchObject({ name: 'ci' });
  expect(await store.findActive(hashApiKey('other-pepper', key))).toBeUndefined();
  expect(await store.revoke('ci')).toBe(1);
  expect(await store.findActive(record.hash)).toBeUndefined();
});

test('linked users round-trip names with characters row keys forbid', async () => {
  const users = createLinkedUserStore(createTableStore(azurite.connectionString));
  await users.link('a/b#c?d', '919876543210');
  expect(await users.find('a/b#c?d')).toMatchObject({ phone: '919876543210' });
  expect((await users.list()).map((u) => u.username)).toContain('a/b#c?d');
  expect(await users.unlink('a/b#c?d')).toBe(true);
  expect(await users.find('a/b#c?d')).toBeUndefined();
});

test('the queue writes notifications atomically, groups concurrent writes, and refuses a repeat id', async () => {
  const queue = createNotificationQueue(createTableStore(azurite.connectionString));
  const now = Date.now();
  const make = () => ({
    id: newNotificationId(now),
    apiKeyHash: 'h',
    createdAt: now,
    expiresAt: now + 60_000,
    skipped: 0,
    waitForDelivery: false,
    recipients: [{ kind: 'phone' as const, phone: '15550002222' }, { kind: 'self' as const }],
    content: { message: 'hi' },
  });
  const many = Array.from({ length: 40 }, make);
  await Promise.all(many.map((n) => queue.enqueue(n)));
  const first = await queue.get(many[0]!.id);
  expect(first?.recipients.map((r) => [r.to, r.state])).toEqual([
    ['15550002222@s.whatsapp.net', 'queued'],
    ['self', 'queued'],
  ]);
  await expect(queue.enqueue(many[3]!)).rejects.toBeInstanceOf(NotificationExists);
  // A batch holding one repeat still lands the others.
  const fresh = make();
  const results = await Promise.allSettled([queue.enqueue(many[5]!), queue.enqueue(fresh)]);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
  expect(await queue.get(fresh.id)).toBeDefined();
});

test('a claim is exclusive: the second claimer of the same row version loses', async () => {
  const queue = createNotificationQueue(createTableStore(azurite.connectionString));
  const now = Date.now();
  const id = newNotificationId(now);
  await queue.enqueue({
    id,
    apiKeyHash: 'h',
    createdAt: now,
    expiresAt: now + 1000,
    skipped: 0,
    waitForDelivery: false,
    recipients: [{ kind: 'phone', phone: '15550003333' }],
    content: { message: 'x' },
  });
  const [row] = (await queue.get(id))!.recipients;
  const a = await queue.claim(row!, 'a', Date.now() + 10_000);
  const b = await queue.claim(row!, 'b', Date.now() + 10_000);
  expect(a?.state).toBe('sending');
  expect(b).toBeUndefined();
  expect((await queue.get(id))!.recipients.map((r) => [r.state, r.leaseOwner])).toEqual([['sending', 'a']]);
});

test('saves of many rows of one partition share a transaction and come back with fresh ETags', async () => {
  const queue = createNotificationQueue(createTableStore(azurite.connectionString));
  const now = Date.now();
  const id = newNotificationId(now);
  const inserted = await queue.enqueue(
    {
      id,
      apiKeyHash: 'h',
      createdAt: now,
      expiresAt: now + 60_000,
      skipped: 0,
      waitForDelivery: false,
      recipients: [
        { kind: 'phone', phone: '15550004444' },
        { kind: 'phone', phone: '15550005555' },
      ],
      content: { message: 'x' },
    },
    { claim: { owner: 'me', leaseUntil: now + 60_000 } },
  );
  expect(inserted.rows.map((r) => r.state)).toEqual(['sending', 'sending']);
  expect(inserted.rows.every((r) => r.etag !== '')).toBe(true);
  const saved = await Promise.all(inserted.rows.map((r) => queue.save({ ...r, state: 'sent', leaseOwner: undefined })));
  expect(saved.every((r) => r !== undefined && r.etag !== inserted.rows[0]!.etag)).toBe(true);
  // The ETags returned are the stored ones: a second save with them succeeds, a stale one loses.
  expect(await queue.save({ ...saved[0]!, state: 'delivered' })).toBeDefined();
  expect(await queue.save({ ...saved[0]!, state: 'read' })).toBeUndefined();
  expect((await queue.get(id))!.recipients.map((r) => r.state)).toEqual(['delivered', 'sent']);
  expect((await queue.openPartitions()).map((p) => p.partition)).toContain(partitionOf(id));
});
