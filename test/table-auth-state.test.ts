/**
 * The Signal key store against a real Azurite, every request counted at a proxy: keys are listed
 * once per load (a query bounded to the `keys` partition), then served from memory; the memory
 * bound falls back to reads only for what it dropped; reload() picks up another holder's writes.
 */
import { azuriteConnectionString } from '../shared/config.js';
import { createTableStore } from '../shared/table-store.js';
import { createSessionCipher } from '../sidecar/session-cipher.js';
import { KeysNotStored, loadTableAuthState } from '../sidecar/table-auth-state.js';
import { startAzurite, type AzuriteHandle } from './support/azurite.js';
import { startStorageRequestCounter, type CountedRequest, type StorageRequestCounter } from './support/storage-request-counter.js';
import { startTcpProxy } from './support/tcp-proxy.js';

let azurite: AzuriteHandle;
let counter: StorageRequestCounter;
const cipher = createSessionCipher('test-session-secret-abcdefghijklmnop');
beforeAll(async () => {
  azurite = await startAzurite();
  counter = await startStorageRequestCounter(azurite.port);
});
afterAll(async () => {
  await counter.close();
  await azurite.dispose();
});

// each "process" gets its own table store, as a restarted sidecar would
const open = (maxKeyBytes?: number, canWrite?: () => boolean) =>
  loadTableAuthState(createTableStore(azuriteConnectionString(counter.port)), cipher, {
    ...(maxKeyBytes ? { maxKeyBytes } : {}),
    ...(canWrite ? { canWrite } : {}),
  });
const keyReads = () =>
  counter.requests.filter(
    (r: CountedRequest) =>
      r.table === 'WhatsappSession' && r.partition === 'keys' && ['point-read', 'pk-query', 'query-no-pk'].includes(r.kind),
  );
const preKey = (n: number) => ({ public: Buffer.alloc(32, n % 256), private: Buffer.alloc(32, (n + 1) % 256) });
const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

test('written through, listed once on load, then every get (hits and misses) answered from memory', async () => {
  const first = await open();
  await first.state.keys.set({ 'pre-key': Object.fromEntries(ids(0, 200).map((id) => [id, preKey(Number(id))])) });
  expect(first.keyStats()).toMatchObject({ rows: 200, complete: true });
  await first.flushed();

  counter.reset();
  const restarted = await open(); // reads the creds row only
  expect(keyReads()).toEqual([]);
  const got = await restarted.state.keys.get('pre-key', ['7', '199', '5000']);
  expect(Object.keys(got).sort()).toEqual(['199', '7']);
  expect(Buffer.from(got['7']!.public)).toEqual(preKey(7).public);
  expect(keyReads().map((r) => r.kind)).toEqual(['pk-query']);
  for (let i = 0; i < 20; i++) await restarted.state.keys.get('tctoken', [`absent-${i}`]); // Baileys asks for absent keys per send
  await restarted.state.keys.get('pre-key', ids(0, 200));
  expect(keyReads().map((r) => r.kind)).toEqual(['pk-query']);
  expect(restarted.keyStats()).toMatchObject({ rows: 200, complete: true, loads: 1 });

  // a delete is written through and forgotten in memory
  await restarted.state.keys.set({ 'pre-key': { '7': null } });
  expect(await restarted.state.keys.get('pre-key', ['7'])).toEqual({});
  await restarted.flushed();
  expect(Object.keys(await (await open()).state.keys.get('pre-key', ['7', '8']))).toEqual(['8']);
});

test('past the memory bound, dropped keys are read back on demand and absent ones once', async () => {
  const small = await open(40 * 140); // room for about 40 of the 199 pre-keys
  counter.reset();
  await small.state.keys.get('pre-key', ['1']);
  const stats = small.keyStats();
  expect(stats.complete).toBe(false);
  expect(stats.bytes).toBeLessThanOrEqual(40 * 140);
  const all = await small.state.keys.get('pre-key', ids(0, 200));
  expect(Object.keys(all)).toHaveLength(199); // '7' was deleted above
  expect(Buffer.from(all['150']!.private)).toEqual(preKey(150).private);
  expect(keyReads().filter((r) => r.kind === 'point-read').length).toBeGreaterThan(0);
  counter.reset();
  await small.state.keys.get('tctoken', ['never-there']);
  await small.state.keys.get('tctoken', ['never-there']);
  expect(keyReads().map((r) => r.kind)).toEqual(['point-read']); // remembered as absent after one read
});

test('reload() picks up keys another holder wrote; wipe() removes every row', async () => {
  const mine = await open();
  await mine.state.keys.get('pre-key', ['1']);
  const other = await open();
  await other.state.keys.set({ session: { '919876543210.0': Buffer.from('ratchet') } });
  await other.flushed();
  expect(await mine.state.keys.get('session', ['919876543210.0'])).toEqual({}); // memory is this holder's view
  await mine.reload(); // the lease came back after another holder
  expect(Buffer.from((await mine.state.keys.get('session', ['919876543210.0']))['919876543210.0']!)).toEqual(Buffer.from('ratchet'));
  expect(mine.keyStats().loads).toBe(2);

  await mine.wipe();
  expect(mine.keyStats()).toMatchObject({ rows: 0, complete: true });
  const after = await open();
  expect(await after.state.keys.get('pre-key', ids(0, 200))).toEqual({});
  expect(after.keyStats().rows).toBe(0);
  expect(after.isPaired()).toBe(false);
});

test('key writes are group-committed: what is set while one write is in flight goes in the next, latest value per key', async () => {
  const store = await open();
  await store.state.keys.get('session', ['x']); // loaded
  counter.reset();
  // As Baileys does under load: one set per send, each resolving before storage has it.
  for (let i = 0; i < 40; i++) {
    await store.state.keys.set({ session: { [`peer-${i % 4}.0`]: Buffer.from(`ratchet step ${i}`) } });
  }
  const writes = () => counter.requests.filter((r) => r.table === 'WhatsappSession' && r.kind === 'batch');
  await store.flushed();
  // The first set left alone; the rest gathered while one was in flight: far fewer than 40 transactions.
  expect(writes().length).toBeGreaterThanOrEqual(1);
  expect(writes().length).toBeLessThanOrEqual(10);
  const other = await open();
  const got = await other.state.keys.get('session', ['peer-0.0', 'peer-3.0']);
  expect(Buffer.from(got['peer-0.0']!).toString()).toBe('ratchet step 36');
  expect(Buffer.from(got['peer-3.0']!).toString()).toBe('ratchet step 39');
});

test('flushed() is kept only while the lease is held: once it is not, pending keys are dropped, not written', async () => {
  let held = true;
  const store = await open(undefined, () => held);
  await store.state.keys.get('session', ['x']);
  await store.state.keys.set({ session: { 'before.0': Buffer.from('stored') } });
  await store.flushed();
  held = false;
  await store.state.keys.set({ session: { 'after.0': Buffer.from('never stored') } });
  await expect(store.flushed()).rejects.toBeInstanceOf(KeysNotStored);
  const other = await open();
  expect(Object.keys(await other.state.keys.get('session', ['before.0', 'after.0']))).toEqual(['before.0']);
});

test('cut from storage, key writes lag: writesLagging() says so until they get through again', async () => {
  const proxy = await startTcpProxy(azurite.port);
  try {
    const store = await loadTableAuthState(createTableStore(azuriteConnectionString(proxy.port)), cipher, { lagMs: 200, retryMs: 100 });
    await store.state.keys.get('session', ['x']);
    await store.state.keys.set({ session: { 'cut.0': Buffer.from('before') } });
    await store.flushed();
    expect(store.writesLagging()).toBe(false);
    await proxy.cut();
    await store.state.keys.set({ session: { 'cut.0': Buffer.from('during') } });
    const landed = store.flushed();
    await new Promise((r) => setTimeout(r, 400));
    expect(store.writesLagging()).toBe(true); // the sidecar holds its sends on this
    await proxy.restore();
    await landed;
    expect(store.writesLagging()).toBe(false);
    const other = await open();
    expect(Buffer.from((await other.state.keys.get('session', ['cut.0']))['cut.0']!).toString()).toBe('during');
  } finally {
    await proxy.close();
  }
}, 60_000);

test('a key write leaves after the send that set it: set() resolves before its transaction goes out', async () => {
  // Baileys calls set() at the end of a send's key transaction and writes the frame after it; the
  // transaction is rendered and sent through the client pipeline in microtasks, which would otherwise run ahead of the frame.
  const events: string[] = [];
  const tables = createTableStore(azuriteConnectionString(counter.port));
  // The store hands out one client per table: a policy on its pipeline sees each request leave.
  tables.client('session').pipeline.addPolicy({
    name: 'record-transactions',
    sendRequest: (request, next) => {
      if (request.url.includes('$batch')) events.push('transaction');
      return next(request);
    },
  });
  const store = await loadTableAuthState(tables, cipher, {});
  await store.state.keys.get('session', ['x']);
  await store.state.keys.set({ session: { 'order.0': Buffer.from('ratchet') } });
  events.push('set resolved');
  await store.flushed();
  expect(events).toEqual(['set resolved', 'transaction']);
  expect(Buffer.from((await (await open()).state.keys.get('session', ['order.0']))['order.0']!).toString()).toBe('ratchet');
});
