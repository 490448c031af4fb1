/**
 * Baileys' auth state (creds and Signal keys) kept in the `WhatsappSession` table instead of files,
 * so the host is disposable: a restart or a redeploy keeps the pairing. Values are serialised with
 * Baileys' BufferJSON, encrypted (session-cipher.ts), and chunked past 64 KiB; row keys are keyed
 * hashes of the key ids, since those ids name the contacts.
 *
 * The process holding the session lease is the only writer, so it owns the state: the `keys`
 * partition is read once (one paged, partition-bounded query) the first time keys are needed, and
 * whenever the lease is regained after another holder (reload()). From then on get() answers from
 * memory and set() writes through, group-committed: the write leaves at once unless one is already
 * in flight, and then everything set meanwhile goes in the next one (latest value per key). set()
 * resolves once memory holds the change, not when storage does: Baileys calls it at the end of a
 * send's key transaction, under a mutex every send shares, so waiting for storage there would put
 * one storage round trip in series with every message. Who needs durability asks for it:
 * `flushed()` resolves once everything set before the call is stored (the delivery worker waits
 * for it before recording a message as sent; the sidecar before releasing the lease). A crash in
 * between loses only ratchet steps of messages still recorded `sending`, which the next holder
 * resends under the same ids from the stored state, so sender and recipient stay in step.
 * Creds are written on every change and never read back.
 */
import {
  BufferJSON,
  initAuthCreds,
  proto,
  type AuthenticationCreds,
  type AuthenticationState,
  type SignalDataTypeMap,
} from '@whiskeysockets/baileys';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { LRUCache } from 'lru-cache';
import { fromChunkProperties, toChunkProperties } from '../shared/chunked-binary.js';
import type { Logger } from '../shared/logger.js';
import { getEntityOrUndefined, type TableStore } from '../shared/table-store.js';
import { removeWholePartition } from '../shared/partition-removal.js';
import { submitTransaction } from '../shared/table-transaction.js';
import type { SessionCipher } from './session-cipher.js';

const CREDS_PK = 'creds';
const KEYS_PK = 'keys';
/** What a known-absent key costs in the cache (only kept once some keys were evicted). */
const TOMBSTONE_BYTES = 64;

/**
 * Default bound on key bytes held (sealed size, close to the JSON size). A paired session holds
 * about 850 rows (812 one-time pre-keys Baileys uploads at pairing, the signed pre-key, sessions,
 * sender keys, LID mappings) of ~0.1–2 KiB each: well under 1 MiB. The bound only matters for an
 * account with thousands of contacts; past it the least recently used keys are dropped from memory
 * (not from storage) and read back when asked for.
 */
export const DEFAULT_MAX_KEY_BYTES = 8 * 1024 * 1024;

export interface TableAuthStateOptions {
  maxKeyBytes?: number;
  log?: Logger;
  /** Whether this process may write (holds the session lease); pending key writes are dropped once it may not. */
  canWrite?: () => boolean;
  /** Wait between tries of a key write storage refused (default 1 s). */
  retryMs?: number;
  /** A key write in flight this long means storage is not keeping up (default 1 s); see writesLagging(). */
  lagMs?: number;
}

/** flushed() could not be kept: the lease went away (or the state was wiped) before the keys were stored. */
export class KeysNotStored extends Error {
  constructor(reason: string) {
    super(`Signal keys not stored: ${reason}`);
    this.name = 'KeysNotStored';
  }
}

export interface KeyMemoryStats {
  /** Key rows held in memory (tombstones included once incomplete). */
  rows: number;
  /** Their sealed size in bytes. */
  bytes: number;
  /** True while every stored key is in memory, so a miss is an answer and storage is not asked. */
  complete: boolean;
  /** How many times the `keys` partition was listed (once per lease taken). */
  loads: number;
}

export interface TableAuthState {
  state: AuthenticationState;
  saveCreds(): Promise<void>;
  /** Whether the stored creds belong to a paired (registered) device. */
  isPaired(): boolean;
  /** Re-reads the creds and every key (another sidecar may have written while it held the lease). */
  reload(): Promise<void>;
  /** Deletes every creds and key row (logout), and starts over with fresh creds in memory. */
  wipe(): Promise<void>;
  keyStats(): KeyMemoryStats;
  /** Resolves once every key set before this call is in storage; rejects with KeysNotStored if it never will be. */
  flushed(): Promise<void>;
  /** True while key writes are not getting through: refused and waiting to be retried, or one in flight for longer than `lagMs`. */
  writesLagging(): boolean;
}

/** A key row's next write: its sealed entity, or its removal. */
type KeyWrite = { upsert: TransactionAction } | { remove: true };

interface Slot {
  /** undefined: known absent (a tombstone). */
  value: unknown;
  bytes: number;
}

export async function loadTableAuthState(
  tables: TableStore,
  cipher: SessionCipher,
  options: TableAuthStateOptions = {},
): Promise<TableAuthState> {
  await tables.ensureTables();
  const client = tables.client('session');

  const open = (pk: string, rk: string, sealed: Uint8Array): unknown => {
    const plain = cipher.decrypt(sealed, `${pk}/${rk}`);
    return JSON.parse(Buffer.from(plain).toString('utf8'), BufferJSON.reviver);
  };
  const seal = (pk: string, rk: string, value: unknown): Uint8Array =>
    cipher.encrypt(Buffer.from(JSON.stringify(value, BufferJSON.replacer)), `${pk}/${rk}`);
  // Key rows name their type only inside the sealed value's row key, so the type is restored on read.
  const revive = (type: keyof SignalDataTypeMap, value: unknown): unknown =>
    type === 'app-state-sync-key' && value ? proto.Message.AppStateSyncKeyData.fromObject(value as object) : value;

  const readCreds = async (): Promise<AuthenticationCreds> => {
    const entity = await getEntityOrUndefined<Record<string, unknown>>(client, CREDS_PK, CREDS_PK);
    return entity ? (open(CREDS_PK, CREDS_PK, fromChunkProperties(entity)) as AuthenticationCreds) : initAuthCreds();
  };
  let creds: AuthenticationCreds = await readCreds();

  // Keys by row key. Values are the decoded objects Baileys reads and writes; their size is
  // counted as the sealed bytes stored for them.
  let complete = false;
  let evicted = false;
  let loads = 0;
  const cache = new LRUCache<string, Slot>({
    maxSize: options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES,
    sizeCalculation: (slot) => Math.max(1, slot.bytes),
    dispose: (_slot, _key, reason) => {
      // A key dropped for room makes a miss ambiguous: from then on misses ask storage.
      if (reason === 'evict') {
        evicted = true;
        complete = false;
      }
    },
  });
  let loading: Promise<void> | undefined;
  /** Row keys set() wrote while a load was listing the partition: the listing may be older. */
  let writtenDuringLoad: Set<string> | undefined;

  const listPartition = (pk: string) =>
    client.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${pk}` } });

  let generation = 0;
  const loadKeys = async (): Promise<void> => {
    const mine = ++generation; // a reload() during a load supersedes it
    const written = new Set<string>();
    writtenDuringLoad = written;
    cache.clear();
    complete = false;
    evicted = false;
    loads++;
    try {
      // The SDK follows continuation tokens: one query, paged 1,000 rows at a time.
      for await (const entity of listPartition(KEYS_PK)) {
        if (mine !== generation) return;
        const rowKey = entity.rowKey!;
        if (written.has(rowKey)) continue;
        const sealed = fromChunkProperties(entity);
        cache.set(rowKey, { value: open(KEYS_PK, rowKey, sealed), bytes: sealed.byteLength });
      }
      complete = !evicted;
      options.log?.info({ rows: cache.size, kib: Math.round(cache.calculatedSize / 1024), complete }, 'Signal keys loaded into memory');
    } finally {
      if (mine === generation) writtenDuringLoad = undefined;
    }
  };
  const ensureLoaded = (): Promise<void> => {
    if (loading) return loading;
    const attempt: Promise<void> = loadKeys().catch((error: unknown) => {
      if (loading === attempt) loading = undefined; // storage was down: the next get() tries again
      throw error;
    });
    loading = attempt;
    return loading;
  };

  const readOne = async (rowKey: string): Promise<Slot> => {
    const entity = await getEntityOrUndefined<Record<string, unknown>>(client, KEYS_PK, rowKey);
    if (!entity) return { value: undefined, bytes: TOMBSTONE_BYTES };
    const sealed = fromChunkProperties(entity);
    return { value: open(KEYS_PK, rowKey, sealed), bytes: sealed.byteLength };
  };

  const writes = createKeyWriter({
    client,
    log: options.log,
    canWrite: options.canWrite ?? (() => true),
    retryMs: options.retryMs ?? 1_000,
    lagMs: options.lagMs ?? 1_000,
  });

  const state: AuthenticationState = {
    get creds() {
      return creds;
    },
    set creds(value) {
      creds = value;
    },
    keys: {
      async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
        await ensureLoaded();
        const data: { [id: string]: SignalDataTypeMap[T] } = {};
        const misses: { id: string; rowKey: string }[] = [];
        for (const id of ids) {
          const rowKey = cipher.rowKey(`${type}~${id}`);
          const slot = cache.get(rowKey);
          if (slot) {
            if (slot.value !== undefined) data[id] = revive(type, slot.value) as SignalDataTypeMap[T];
          } else if (!complete) misses.push({ id, rowKey });
          // complete and not held: the key does not exist (Baileys asks for absent tctokens on every send)
        }
        // Only after keys were evicted for room: read those back one by one and hold them again.
        await Promise.all(
          misses.map(async ({ id, rowKey }) => {
            const slot = await readOne(rowKey);
            if (!cache.has(rowKey)) cache.set(rowKey, slot);
            if (slot.value !== undefined) data[id] = revive(type, slot.value) as SignalDataTypeMap[T];
          }),
        );
        return data;
      },
      async set(data) {
        // Loaded first (once per lease), so memory is the whole partition plus what we wrote since.
        await ensureLoaded();
        const upserts: [string, TransactionAction][] = [];
        const deletes: string[] = [];
        for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
          for (const [id, value] of Object.entries(data[type] ?? {})) {
            const rowKey = cipher.rowKey(`${type}~${id}`);
            writtenDuringLoad?.add(rowKey);
            if (value) {
              const sealed = seal(KEYS_PK, rowKey, value);
              // Memory first: it is the truth while the lease is held; storage is its durable copy.
              cache.set(rowKey, { value, bytes: sealed.byteLength });
              upserts.push([rowKey, ['upsert', { partitionKey: KEYS_PK, rowKey, ...toChunkProperties(sealed) }, 'Replace']]);
            } else {
              if (complete) cache.delete(rowKey);
              else cache.set(rowKey, { value: undefined, bytes: TOMBSTONE_BYTES });
              deletes.push(rowKey);
            }
          }
        }
        writes.enqueue(upserts, deletes);
        // Baileys calls this at the end of each send's key transaction, and the next send waiting on
        // its mutex continues in a microtask: with no storage round trip here any more, sends in flight
        // would run back to back without the event loop ever polling I/O (measured: stretches of up to
        // 0.9 s, accepts waiting behind them). One turn of the loop between sends keeps I/O flowing.
        await setImmediate();
      },
    },
  };

  return {
    state,
    async saveCreds() {
      await client.upsertEntity(
        { partitionKey: CREDS_PK, rowKey: CREDS_PK, ...toChunkProperties(seal(CREDS_PK, CREDS_PK, creds)) },
        'Replace',
      );
    },
    isPaired: () => Boolean(creds.registered || creds.me?.id),
    async reload() {
      creds = await readCreds();
      loading = undefined;
      await ensureLoaded();
    },
    async wipe() {
      await writes.drop('the session was wiped');
      // Hundreds of key rows after a while: whole partitions, in delete transactions of 100.
      await removeWholePartition(client, CREDS_PK);
      await removeWholePartition(client, KEYS_PK);
      generation++; // a load still listing must not refill the cache
      writtenDuringLoad = undefined;
      cache.clear();
      complete = true; // nothing is stored any more
      loading = Promise.resolve();
      creds = initAuthCreds();
    },
    keyStats: () => ({ rows: cache.size, bytes: cache.calculatedSize, complete, loads }),
    flushed: () => writes.flushed(),
    writesLagging: () => writes.lagging(),
  };
}

/**
 * Group commit of key writes: one batch in flight at a time; whatever is set meanwhile waits and
 * goes in the next batch, the latest value per row key. A failed batch is retried (values set
 * since win) for as long as this process may write.
 */
function createKeyWriter(deps: { client: TableClient; log?: Logger; canWrite: () => boolean; retryMs: number; lagMs: number }) {
  const { client } = deps;
  let pending = new Map<string, KeyWrite>();
  /** Sequence of the last set() taken in, and of the last one known stored. */
  let taken = 0;
  let stored = 0;
  /** Sequence up to which unstored writes were dropped (lease lost, wipe), and why. */
  let dropped = 0;
  let droppedBecause = '';
  let running: Promise<void> | undefined;
  /** Bumped by a drop: a batch that left before it must not come back on failure. */
  let epoch = 0;
  let failing = false;
  /** When the batch in flight left (performance.now()), if one is in flight. */
  let inFlightSince: number | undefined;
  const waiters: { upTo: number; resolve: () => void; reject: (error: Error) => void }[] = [];

  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.upTo <= stored) waiters.splice(i, 1)[0]!.resolve();
    }
  };
  const dropAll = (reason: string) => {
    epoch++;
    failing = false;
    pending = new Map();
    dropped = taken;
    droppedBecause = reason;
    for (const w of waiters.splice(0)) w.reject(new KeysNotStored(reason));
  };

  const writeBatch = async (batch: Map<string, KeyWrite>) => {
    const upserts: TransactionAction[] = [];
    const removals: string[] = [];
    for (const [rowKey, write] of batch) {
      if ('upsert' in write) upserts.push(write.upsert);
      else removals.push(rowKey);
    }
    // 50 sealed rows stay well under a transaction's 4 MiB, even chunked ones.
    for (let i = 0; i < upserts.length; i += 50) await submitTransaction(client, upserts.slice(i, i + 50));
    // Deletes of missing rows would fail a transaction, so they run on their own, tolerated.
    await Promise.all(
      removals.map((rowKey) =>
        client.deleteEntity(KEYS_PK, rowKey).catch((error: { statusCode?: number }) => {
          if (error.statusCode !== 404) throw error;
        }),
      ),
    );
  };

  const loop = async () => {
    while (pending.size > 0) {
      if (!deps.canWrite()) return dropAll('the session lease is not held');
      const batch = pending;
      const upTo = taken;
      const leftIn = epoch;
      pending = new Map();
      inFlightSince = performance.now();
      try {
        await writeBatch(batch);
        inFlightSince = undefined;
        failing = false;
        stored = Math.max(stored, upTo);
        settle();
      } catch (error) {
        inFlightSince = undefined;
        failing = true;
        if (leftIn !== epoch) continue; // dropped meanwhile
        // Values set since this batch left are newer: they win over the retried ones.
        for (const [rowKey, write] of batch) if (!pending.has(rowKey)) pending.set(rowKey, write);
        deps.log?.warn({ err: (error as Error).message, rows: batch.size }, 'could not store Signal keys; will try again');
        await sleep(deps.retryMs);
      }
    }
  };
  let kickTimer: NodeJS.Timeout | undefined;
  const kick = () => {
    if (running) return;
    running = loop().finally(() => {
      running = undefined;
      if (pending.size > 0) kick();
    });
  };

  return {
    enqueue(upserts: [string, TransactionAction][], removals: string[]) {
      if (upserts.length === 0 && removals.length === 0) return;
      for (const [rowKey, upsert] of upserts) pending.set(rowKey, { upsert });
      for (const rowKey of removals) pending.set(rowKey, { remove: true });
      taken++;
      // Not now: set() runs inside a send's key transaction, and the transaction is rendered and
      // signed in microtasks. A timer lets the send's frame go out first; the write follows a turn later.
      if (!running && !kickTimer)
        kickTimer = setTimeout(() => {
          kickTimer = undefined;
          kick();
        }, 0);
    },
    flushed(): Promise<void> {
      if (stored >= taken) return Promise.resolve();
      if (dropped >= taken) return Promise.reject(new KeysNotStored(droppedBecause));
      return new Promise((resolve, reject) => waiters.push({ upTo: taken, resolve, reject }));
    },
    lagging: () => failing || (inFlightSince !== undefined && performance.now() - inFlightSince > deps.lagMs),
    /** Forgets what is not yet stored, and waits for the batch in flight to land. */
    async drop(reason: string) {
      dropAll(reason);
      await running?.catch(() => undefined);
    },
  };
}
