/**
 * Idempotency-Key (contract extension): a repeat with the same key and API key within 24 h sends
 * nothing again and gets the first answer back. Kept in the `WhatsappIdempotency` table, one row per
 * (API key hash, SHA-256 of the key) in the partition of the day it was claimed
 * (shared/idempotency-layout.ts: whole days are removed after their 24 h), claimed with createEntity
 * so two concurrent repeats — on any function instance — cannot both send: the loser waits briefly
 * for the first answer, else 409. A claim also looks in the day before: a record from yesterday
 * still within its 24 h wins over today's new claim (two repeats straddling midnight within the
 * same few milliseconds could still both claim; that is the price of day partitions).
 *
 * Only answers that queued something are remembered (200 — deferred ones too — 502, 504). An error
 * that queued nothing (400, 404, 409, 413, 503…) releases the key, so the client can retry with it.
 * The claim carries the notification id chosen for the first attempt: if that instance died before
 * answering, a later repeat finds the notification in the queue and answers for it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import type { HttpResponseInit } from '@azure/functions';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { idempotencyDay } from '../shared/idempotency-layout.js';
import { getEntityOrUndefined, isConflict, isNotFound, isPreconditionFailed, type TableStore } from '../shared/table-store.js';
import { HttpError } from './http-errors.js';

const REMEMBERED_STATUSES = new Set([200, 502, 504]);

interface IdempotencyEntity {
  state: 'pending' | 'done';
  notificationId: string;
  createdAt: number;
  expiresAt: number;
  status?: number;
  body?: string;
  headers?: string;
}

export type IdempotencyClaim =
  | { kind: 'replay'; response: HttpResponseInit }
  | {
      kind: 'first';
      /** Remembers the answer (or releases the key when the answer queued nothing). */
      finish(response: HttpResponseInit): Promise<void>;
      /** Gives the key up after an error: nothing was queued. */
      release(): Promise<void>;
    };

export interface IdempotencyStore {
  /**
   * Claims the key for this request (which will use `notificationId`), or returns the first answer.
   * `recover` answers for a notification whose request died without answering (undefined: not queued).
   */
  begin(
    apiKeyHash: string,
    key: string,
    notificationId: string,
    recover: (notificationId: string) => Promise<HttpResponseInit | undefined>,
  ): Promise<IdempotencyClaim>;
}

export function createIdempotencyStore(deps: {
  tables: TableStore;
  clock: Clock;
  log: Logger;
  ttlMs?: number;
  /** A claim older than this with no answer belongs to a request that died. */
  staleAfterMs: number;
  /** How long a concurrent repeat waits for the first answer before 409. */
  waitMs?: number;
}): IdempotencyStore {
  const { tables, clock, log } = deps;
  const ttlMs = deps.ttlMs ?? 24 * 3_600_000;
  const waitMs = deps.waitMs ?? 5_000;
  const client = () => tables.client('idempotency');

  const replay = (e: IdempotencyEntity): HttpResponseInit => ({
    status: e.status,
    body: e.body,
    headers: { ...(e.headers ? (JSON.parse(e.headers) as Record<string, string>) : {}), 'Idempotent-Replayed': 'true' },
  });

  const plainHeaders = (headers: HttpResponseInit['headers']): Record<string, string> => {
    if (!headers || typeof headers !== 'object' || Array.isArray(headers) || headers instanceof Headers) return {};
    return Object.fromEntries(Object.entries(headers).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
  };

  const claimFor = (pk: string, rk: string, etag: string): IdempotencyClaim => {
    let current = etag;
    const release = async () => {
      await client()
        .deleteEntity(pk, rk, { etag: current })
        .catch((error: unknown) => {
          if (!isNotFound(error) && !isPreconditionFailed(error))
            log.warn({ err: (error as Error).message }, 'could not release an idempotency key');
        });
    };
    return {
      kind: 'first',
      release,
      async finish(response) {
        const status = response.status ?? 200;
        if (!REMEMBERED_STATUSES.has(status) || typeof response.body !== 'string') return release();
        try {
          const result = await client().updateEntity(
            {
              partitionKey: pk,
              rowKey: rk,
              state: 'done',
              status,
              body: response.body,
              headers: JSON.stringify(plainHeaders(response.headers)),
            },
            'Merge',
            { etag: current },
          );
          current = result.etag ?? current;
        } catch (error) {
          // The answer still goes out; a repeat later recovers it from the queue by notification id.
          log.warn({ err: (error as Error).message }, 'could not remember an idempotent answer');
        }
      },
    };
  };

  return {
    async begin(apiKeyHash, key, notificationId, recover) {
      await tables.ensureTables();
      const rk = `${apiKeyHash}~${createHash('sha256').update(key, 'utf8').digest('hex')}`;
      const today = idempotencyDay(clock.now());
      const yesterday = idempotencyDay(clock.now() - 86_400_000);
      // A record from yesterday still within its 24 h is the one that counts.
      const earlier = await getEntityOrUndefined<IdempotencyEntity>(client(), yesterday, rk);
      let pk = earlier && earlier.expiresAt > clock.now() ? yesterday : today;
      const fresh = (): IdempotencyEntity => {
        const now = clock.now();
        return { state: 'pending', notificationId, createdAt: now, expiresAt: now + ttlMs };
      };
      /** Claims the key by creating its row; undefined when a row is already there. */
      const create = async (): Promise<IdempotencyClaim | undefined> => {
        try {
          const created = await client().createEntity({ partitionKey: pk, rowKey: rk, ...fresh() });
          return claimFor(pk, rk, created.etag ?? '*');
        } catch (error) {
          if (!isConflict(error)) throw error;
          return undefined;
        }
      };
      const first = pk === today ? await create() : undefined;
      if (first) return first;
      /** Replaces a stale row if nobody changed it meanwhile; undefined when someone did. */
      const takeOver = async (etag: string): Promise<IdempotencyClaim | undefined> => {
        try {
          const taken = await client().updateEntity({ partitionKey: pk, rowKey: rk, ...fresh() }, 'Replace', { etag });
          return claimFor(pk, rk, taken.etag ?? '*');
        } catch (error) {
          if (!isPreconditionFailed(error)) throw error;
          return undefined;
        }
      };
      const deadline = clock.now() + waitMs;
      const busy = () =>
        new HttpError(409, 'A request with this Idempotency-Key is still being processed; retry later', undefined, { 'Retry-After': '1' });
      // Bounded: about waitMs of polling, plus a few lost races.
      for (let round = 0; round < Math.ceil(waitMs / 100) + 10; round++) {
        const row = await getEntityOrUndefined<IdempotencyEntity>(client(), pk, rk);
        const now = clock.now();
        if (!row) {
          // Released by a first attempt that failed: this one may try (in today's partition).
          pk = today;
          const created = await create();
          if (created) return created;
          continue;
        }
        if (row.expiresAt <= now) {
          const taken = await takeOver(row.etag);
          if (taken) return taken;
          continue;
        }
        if (row.state === 'done') return { kind: 'replay', response: replay(row) };
        if (now - row.createdAt > deps.staleAfterMs) {
          // The first request died without answering. If it queued the notification, answer for it.
          const answer = await recover(row.notificationId);
          if (answer) {
            const claim = claimFor(pk, rk, row.etag);
            if (claim.kind === 'first') await claim.finish(answer);
            return { kind: 'replay', response: { ...answer, headers: { ...plainHeaders(answer.headers), 'Idempotent-Replayed': 'true' } } };
          }
          const taken = await takeOver(row.etag);
          if (taken) return taken;
          continue;
        }
        if (now >= deadline) throw busy();
        await sleep(100);
      }
      throw busy();
    },
  };
}
