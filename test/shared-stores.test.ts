import { startAzurite, type AzuriteHandle } from './support/azurite.js';
import { createTableStore } from '../shared/table-store.js';
import { createApiKeyStore, hashApiKey } from '../shared/api-keys.js';
import { createLinkedUserStore } from '../shared/linked-users.js';
import { createNotificationQueue, newNotificationId, NotificationExists } from '../shared/notification-queue.js';

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
  const now = new Date();
  const make = () => ({
    id: newNotificationId(now),
    apiKeyHash: 'h',
    createdAt: now,
    expiresAt: new Date(now.getTime() + 60_000),
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
  const now = new Date();
  const id = newNotificationId(now);
  await queue.enqueue({
    id, apiKeyHash: 'h', createdAt: now, expiresAt: new Date(now.getTime() + 1000), skipped: 0, waitForDelivery: false,
    recipients: [{ kind: 'phone', phone: '15550003333' }], content: { message: 'x' },
  });
  const [row] = (await queue.get(id))!.recipients;
  const a = await queue.claim(row!, 'a', Date.now() + 10_000);
  const b = await queue.claim(row!, 'b', Date.now() + 10_000);
  expect(a?.state).toBe('sending');
  expect(b).toBeUndefined();
  const due = await queue.due(Date.now(), 100);
  expect(due.find((r) => r.notificationId === id)).toBeUndefined();
});
