/**
 * One writer per WhatsApp session: a lease row in the `WhatsappSession` table, taken and renewed
 * with ETag-conditional writes. A sidecar opens the WhatsApp socket only while it holds the lease,
 * so two sidecars on one session never both connect (the 440 "replaced" loop of FIELD-NOTES).
 *
 * The lease names the sidecar identity (WHATSAPP_SIDECAR_ID, default the host name). A process
 * with the same identity takes it over at once: that is this sidecar restarted after a crash.
 * Any other identity waits until the lease expires (the holder stopped renewing).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { getEntityOrUndefined, isConflict, isNotFound, isPreconditionFailed, type TableStore } from '../shared/table-store.js';

const LEASE_PK = 'lease';
const LEASE_RK = 'session';

interface LeaseEntity {
  owner: string;
  instance: string;
  expiresAt: number;
}

export interface SessionLease {
  held(): boolean;
  /** The identity holding the lease when it is not us (for status). */
  holder(): string | undefined;
  /** One attempt now, then renew (or retry) every `renewMs` until stopped. */
  start(): Promise<void>;
  /** Stops renewing and gives the lease up so a successor need not wait for it to expire. */
  stop(): Promise<void>;
  onChange(listener: (held: boolean) => void): () => void;
}

export function createSessionLease(deps: {
  tables: TableStore;
  owner: string;
  clock: Clock;
  log: Logger;
  leaseMs?: number;
  renewMs?: number;
}): SessionLease {
  const { tables, owner, clock, log } = deps;
  const leaseMs = deps.leaseMs ?? 30_000;
  const renewMs = deps.renewMs ?? Math.max(250, Math.floor(leaseMs / 3));
  const instance = randomUUID();
  const events = new EventEmitter();
  const client = () => tables.client('session');
  let etag: string | undefined;
  let heldUntil = 0;
  let otherHolder: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let wasHeld = false;

  const held = () => etag !== undefined && clock.now() < heldUntil;

  const notify = () => {
    const now = held();
    if (now !== wasHeld) {
      wasHeld = now;
      log.info({ held: now, holder: now ? owner : otherHolder }, now ? 'session lease taken' : 'session lease not held');
      events.emit('change', now);
    }
  };

  const write = async (current: { etag: string } | undefined): Promise<void> => {
    const expiresAt = clock.now() + leaseMs;
    const entity = { partitionKey: LEASE_PK, rowKey: LEASE_RK, owner, instance, expiresAt };
    const result = current ? await client().updateEntity(entity, 'Replace', { etag: current.etag }) : await client().createEntity(entity);
    etag = result.etag;
    // Counted from before the write: never believe we hold it longer than the row says.
    heldUntil = expiresAt - 1_000;
    otherHolder = undefined;
  };

  const attempt = async (): Promise<void> => {
    try {
      await tables.ensureTables();
      const row = await getEntityOrUndefined<LeaseEntity>(client(), LEASE_PK, LEASE_RK);
      if (!row) {
        await write(undefined);
      } else if (row.etag === etag || row.owner === owner || row.expiresAt <= clock.now()) {
        await write({ etag: row.etag });
      } else {
        etag = undefined;
        otherHolder = row.owner;
      }
    } catch (error) {
      if (isConflict(error) || isPreconditionFailed(error)) {
        // Someone else wrote it between our read and our write: theirs, for now.
        etag = undefined;
      } else {
        // Storage unreachable: keep what we have until it runs out (a short outage must not drop
        // the WhatsApp connection), and try again at the next tick.
        log.warn({ err: (error as Error).message }, 'could not renew the session lease');
      }
    }
    notify();
  };

  const schedule = () => {
    if (!running) return;
    timer = setTimeout(() => {
      void attempt().finally(schedule);
    }, renewMs);
    timer.unref();
  };

  return {
    held,
    holder: () => (held() ? owner : otherHolder),
    async start() {
      if (running) return;
      running = true;
      await attempt();
      schedule();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      if (etag && held()) {
        await client()
          .deleteEntity(LEASE_PK, LEASE_RK, { etag })
          .catch((error: unknown) => {
            if (!isNotFound(error) && !isPreconditionFailed(error)) log.warn({ err: (error as Error).message }, 'could not release the session lease');
          });
      }
      etag = undefined;
      notify();
    },
    onChange(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
  };
}
