/**
 * One writer per WhatsApp session: a lease row in the `WhatsappSession` table, taken and renewed
 * with ETag-conditional writes. A sidecar opens the WhatsApp socket only while it holds the lease,
 * so two sidecars on one session never both connect (the 440 "replaced" loop of FIELD-NOTES).
 *
 * The lease names the sidecar identity (WHATSAPP_SIDECAR_ID, default the host name). A process
 * with the same identity takes it over at once: that is this sidecar restarted after a crash.
 * Any other identity is a standby: it waits until the lease expires (the holder stopped renewing)
 * or is released (the holder stopped gracefully), then takes it.
 *
 * Fencing: the holder believes it holds the lease only until `expiresAt - fenceMs` (its own clock,
 * measured from before the write), and a timer drops it at that instant even while a renewal hangs
 * on an unreachable storage account. So the holder closes its WhatsApp socket before any standby
 * can take the lease. Every storage call is bounded by a timeout for the same reason.
 *
 * Cost in storage requests: the holder renews with one conditional write per `renewMs` (lease/3 by
 * default: 6 a minute for the default 30 s lease); a standby reads the row once per `standbyPollMs`
 * (at most 5 s: 12 a minute) and again exactly when the lease it saw runs out.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { isConflict, isNotFound, isPreconditionFailed, type TableStore } from '../shared/table-store.js';

const LEASE_PK = 'lease';
const LEASE_RK = 'session';

interface LeaseEntity {
  owner: string;
  instance: string;
  expiresAt: number;
}

export interface SessionLease {
  /** As last announced through onChange: what the WhatsApp socket follows. */
  held(): boolean;
  /** Held and not past the fence by the clock, now: what every send checks. */
  valid(): boolean;
  /** The identity holding the lease (ours while we hold it), when known. */
  holder(): string | undefined;
  /** One attempt now, then renew (or retry) every `renewMs` until stopped. */
  start(): Promise<void>;
  /** Stops renewing and gives the lease up so a successor need not wait for it to expire. */
  stop(): Promise<void>;
  onChange(listener: (held: boolean) => void): () => void;
}

export interface SessionLeaseTimings {
  leaseMs: number;
  renewMs: number;
  /** How long before the row's expiry the holder stops believing it holds the lease. */
  fenceMs: number;
  standbyPollMs: number;
}

/** The derived timings for a lease length: what the README documents. */
export function sessionLeaseTimings(leaseMs = 30_000, renewMs?: number): SessionLeaseTimings {
  const renew = renewMs ?? Math.max(250, Math.floor(leaseMs / 3));
  return {
    leaseMs,
    renewMs: renew,
    // At least a second (clock steps, a slow socket close), at most 5 s; always less than what is
    // left after one missed renewal, so a single slow write does not drop a healthy holder.
    fenceMs: Math.min(5_000, Math.max(1_000, Math.floor(leaseMs / 5)), Math.max(0, leaseMs - 2 * renew)),
    standbyPollMs: Math.min(renew, 5_000),
  };
}

export function createSessionLease(deps: {
  tables: TableStore;
  owner: string;
  clock: Clock;
  log: Logger;
  leaseMs?: number;
  renewMs?: number;
  /** Bound on one storage call (default: as long as a renewal can still help, at most 10 s). */
  requestTimeoutMs?: number;
}): SessionLease {
  const { tables, owner, clock, log } = deps;
  const { leaseMs, renewMs, fenceMs, standbyPollMs } = sessionLeaseTimings(deps.leaseMs, deps.renewMs);
  // The fence timer, not this bound, is what keeps a stalled holder safe; the bound only stops a
  // hung call from holding up the next attempt, so it allows as long as a renewal is still useful.
  const requestTimeoutMs = deps.requestTimeoutMs ?? Math.min(10_000, leaseMs - fenceMs);
  const instance = randomUUID();
  const events = new EventEmitter();
  const client = () => tables.client('session');
  const bounded = () => ({ abortSignal: AbortSignal.timeout(requestTimeoutMs) });
  let etag: string | undefined;
  let heldUntil = 0;
  let otherHolder: string | undefined;
  /** When the row we last saw (someone else's) runs out, by our clock. */
  let otherUntil = 0;
  let timer: NodeJS.Timeout | undefined;
  let fenceTimer: NodeJS.Timeout | undefined;
  let running = false;
  let wasHeld = false;
  let inFlight: Promise<void> | undefined;

  const valid = () => etag !== undefined && clock.now() < heldUntil;
  // The announced state. It lags valid() only during the fence's grace for a renewal in flight, and
  // must not lag the events: a socket opened or refused on it is reconciled only by the next event.
  const held = () => wasHeld;

  const notify = () => {
    const now = valid();
    if (now !== wasHeld) {
      wasHeld = now;
      log.info({ held: now, holder: now ? owner : otherHolder }, now ? 'session lease taken' : 'session lease not held');
      events.emit('change', now);
    }
  };

  // Drops the lease at the fence even when the renewal that should have extended it hangs. From the
  // fence on, valid() is false, so nothing is sent. A renewal still in flight (typically: our own event
  // loop stalled, e.g. Baileys generating keys, and the renewal went out late) gets until half the
  // fence margin is used up before the socket is closed: if it lands, nobody else can have written
  // the row (it is ETag-conditional), and dropping the connection would only cause a new login and
  // a new stall. Half the margin still separates our close from the earliest takeover.
  const onFence = () => {
    if (valid() || !wasHeld) return;
    const graceEnd = heldUntil + Math.floor(fenceMs / 2);
    const pending = inFlight;
    if (!pending || clock.now() >= graceEnd) return notify();
    const grace = setTimeout(notify, graceEnd - clock.now());
    grace.unref();
    void pending.finally(() => {
      clearTimeout(grace);
      notify();
    });
  };
  const armFence = () => {
    if (fenceTimer) clearTimeout(fenceTimer);
    fenceTimer = setTimeout(() => setImmediate(onFence), Math.max(0, heldUntil - clock.now()) + 1);
    fenceTimer.unref();
  };

  const write = async (current: { etag: string } | undefined): Promise<void> => {
    const startedAt = clock.now();
    const expiresAt = startedAt + leaseMs;
    const entity = { partitionKey: LEASE_PK, rowKey: LEASE_RK, owner, instance, expiresAt };
    const result = current
      ? await client().updateEntity(entity, 'Replace', { etag: current.etag, ...bounded() })
      : await client().createEntity(entity, bounded());
    if (!running) return; // stopped meanwhile: stop() gave up what it knew of; this write lapses
    etag = result.etag;
    // Counted from before the write: never believe we hold it longer than the row says.
    heldUntil = expiresAt - fenceMs;
    otherHolder = undefined;
    armFence();
  };

  const read = async (): Promise<void> => {
    let row: (LeaseEntity & { etag: string }) | undefined;
    try {
      row = await client().getEntity<LeaseEntity>(LEASE_PK, LEASE_RK, bounded());
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (!row) return write(undefined);
    if (row.owner === owner || row.expiresAt <= clock.now()) return write({ etag: row.etag });
    etag = undefined;
    otherHolder = row.owner;
    otherUntil = row.expiresAt;
  };

  const attempt = async (): Promise<void> => {
    try {
      await tables.ensureTables();
      if (etag !== undefined) {
        // The holder renews blind with its ETag (one request): it knows what it wrote last.
        try {
          await write({ etag });
        } catch (error) {
          if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
          etag = undefined; // someone else wrote it (our lease had run out): read who
          await read();
        }
      } else {
        await read();
      }
    } catch (error) {
      if (isConflict(error) || isPreconditionFailed(error)) {
        // Someone else wrote it between our read and our write: theirs, for now.
        etag = undefined;
      } else {
        // Storage unreachable: keep what we have until the fence (a short outage must not drop the
        // WhatsApp connection), and try again at the next tick.
        log.warn({ err: (error as Error).message }, 'could not renew the session lease');
      }
    }
    notify();
  };

  const nextDelay = (began: number) => {
    // Renewals keep their rhythm from the start of the last one, so a slow write does not push the
    // next one towards the fence.
    if (etag !== undefined) return Math.max(0, began + renewMs - clock.now());
    // A standby wakes when the lease it saw runs out, and polls in between for a release.
    const untilExpiry = otherUntil - clock.now() + 20;
    return untilExpiry > 0 ? Math.min(standbyPollMs, untilExpiry) : standbyPollMs;
  };

  const schedule = (began: number) => {
    if (!running) return;
    timer = setTimeout(() => {
      const now = clock.now();
      const current = attempt().finally(() => {
        if (inFlight === current) inFlight = undefined;
        schedule(now);
      });
      inFlight = current;
    }, nextDelay(began));
    timer.unref();
  };

  return {
    held,
    valid,
    holder: () => (held() ? owner : otherHolder),
    async start() {
      if (running) return;
      running = true;
      const began = clock.now();
      await attempt();
      schedule(began);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      if (fenceTimer) clearTimeout(fenceTimer);
      const release = etag;
      etag = undefined;
      notify(); // not ours from here on, before the release lets a standby connect
      if (release) {
        await client()
          .deleteEntity(LEASE_PK, LEASE_RK, { etag: release, ...bounded() })
          .then(() => log.info('session lease released'))
          .catch((error: unknown) => {
            if (!isNotFound(error) && !isPreconditionFailed(error))
              log.warn({ err: (error as Error).message }, 'could not release the session lease');
          });
      }
    },
    onChange(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
  };
}
