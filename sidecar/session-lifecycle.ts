/**
 * The WhatsApp session's lifecycle as explicit states, the way `ws`'s receiver is a state machine:
 * `transition(state, event, facts)` returns the next state and the effects to run (open or close the
 * socket, schedule a reconnect, fetch the WhatsApp Web version, wipe the stored session, …). Pure:
 * the Baileys socket, the timers and the storage I/O stay in whatsapp-session.ts, which runs the
 * effects and feeds their outcomes back as events.
 *
 * The no-loop rules of FIELD-NOTES live here: 515 reconnects at once; 440 and 403 pause until an
 * admin connects; 405 refreshes the version at most MAX_VERSION_REFRESHES times, then pauses; 401
 * wipes the session and waits for pairing; other closes back off (growing delays) when paired and
 * give up when unpaired (an expired QR); losing the session lease closes the socket at once.
 */
import { backoffDelayMs } from '../shared/backoff.js';
import { describeDisconnect, disconnectAction } from './disconnect-policy.js';

export type SessionState = 'unpaired' | 'pairing' | 'connecting' | 'open' | 'paused' | 'logged_out';

export interface SessionStatus {
  state: SessionState;
  me?: string;
  qr?: string;
  pairing_code?: string;
  last_disconnect?: { code?: number; reason: string; at: string };
  /** Extension: true while another sidecar holds the session lease (this one is a warm standby). */
  standby?: boolean;
  /** Extension, with `standby`: the WHATSAPP_SIDECAR_ID holding the session lease, when known. */
  holder?: string;
}

/** Baileys' WAVersion, spelt out so this module stays free of Baileys. */
export type WaVersion = [number, number, number];

type LastDisconnect = NonNullable<SessionStatus['last_disconnect']>;

/** A WhatsApp Web version refused again after this many refreshes pauses the session (no loop). */
export const MAX_VERSION_REFRESHES = 3;

/** Why a session is held down; whatever the cause, only connect (or pair) brings it back. */
export type PauseCause = 'admin' | 'refused' | 'unlinked';

/**
 * What the session is doing. The status shown (SessionStatus) is kept beside it, since a phase does
 * not always name one state: idle shows unpaired or logged_out (connecting before start when
 * paired); reconnecting shows connecting (unpaired after a 405 while unpaired); standby and paused
 * show paused (paused shows unpaired or logged_out when there is no session); refreshing-version,
 * logging-out and unlinking keep showing the status from before them until their I/O is done.
 */
export type Phase =
  /** Wants to run, but has nothing to run: not started yet, unpaired, or logged out by the phone. */
  | { kind: 'idle' }
  /** A socket logs in with the stored creds. */
  | { kind: 'connecting' }
  /** A socket waits for a QR scan or a pairing code; `phone`: a code still to request at the first QR. */
  | { kind: 'pairing'; phone?: string }
  | { kind: 'open' }
  /** No socket; a timer opens one again. */
  | { kind: 'reconnecting'; phone?: string }
  /** After a 405: fetching the current WhatsApp Web version before a delayed reconnect. */
  | { kind: 'refreshing-version'; lastDisconnect: LastDisconnect; phone?: string }
  /** After a 401: wiping the stored session, then logged out. */
  | { kind: 'logging-out'; lastDisconnect: LastDisconnect }
  /**
   * Another sidecar holds the session lease: no socket until it is ours. `reloadOnLease`: another
   * holder was seen, so the stored creds may be newer than ours.
   */
  | { kind: 'standby'; reloadOnLease: boolean }
  /** The lease became ours after another holder: re-reading the stored creds before connecting. */
  | { kind: 'reloading' }
  /** Held down: no reconnect, no lease following. `standby` when paused while waiting for the lease (still shown). */
  | { kind: 'paused'; cause: PauseCause; standby?: { reloadOnLease: boolean } }
  /** Logging out (when open) and wiping, on the admin's request. */
  | { kind: 'unlinking' }
  | { kind: 'stopped' };

export interface Lifecycle {
  phase: Phase;
  /** What status() reports, without standby/holder (read from the lease at every look). */
  status: SessionStatus;
  /** Backed-off reconnects since the last open (the backoff exponent). */
  attempt: number;
  /** Version refreshes (405) since the last open. */
  versionRefreshes: number;
  /** The WhatsApp Web version sockets open with (undefined: Baileys' own). */
  version?: WaVersion;
}

export type LifecycleEvent =
  | { type: 'start' }
  | { type: 'pair'; phone?: string }
  | { type: 'connect' }
  /** Admin pause. */
  | { type: 'disconnect' }
  | { type: 'unlink' }
  /** The stored session was wiped (after a 401 or an unlink). */
  | { type: 'wiped' }
  | { type: 'stop' }
  | { type: 'qr'; qr: string }
  | { type: 'pairing-code'; code: string }
  /** connection.update open */
  | { type: 'opened' }
  /** connection.update close, with the status code of lastDisconnect */
  | { type: 'closed'; code?: number }
  | { type: 'version-fetched'; version?: WaVersion }
  /** The reconnect timer fired. */
  | { type: 'timer' }
  | { type: 'lease'; held: boolean }
  /** The stored creds were re-read after the lease came back. */
  | { type: 'reloaded' };

/** What the shell knows at the moment of the event (read from the creds, the socket and the lease). */
export interface Facts {
  paired: boolean;
  /** The paired number's JID, once known. */
  me?: string;
  /** True without a lease (a lone sidecar). */
  leaseHeld: boolean;
  /** The identity holding the lease, when known. */
  holder?: string;
  /** Now, as an ISO timestamp (for last_disconnect). */
  at: string;
  random?: () => number;
}

export type Effect =
  /** Close any old socket and open a new one. */
  | { type: 'open-socket'; version?: WaVersion }
  /** Close the socket (if any); unacknowledged sends fail with `reason`. */
  | { type: 'close-socket'; reason: string }
  | { type: 'schedule-reconnect'; delayMs: number }
  | { type: 'cancel-reconnect' }
  /** Then `version-fetched`. */
  | { type: 'fetch-version' }
  /** Wipe the stored session (errors logged), then `wiped`. */
  | { type: 'wipe-auth' }
  /** Log out first when `logout`, close the socket, wipe (errors reach the caller), then `wiped`. */
  | { type: 'unlink'; logout: boolean }
  /** Re-read the stored creds (errors logged), then `reloaded`. */
  | { type: 'reload-auth' }
  /** Ask the current socket for a pairing code, then `pairing-code`. */
  | { type: 'request-pairing-code'; phone: string }
  | { type: 'print-qr'; qr: string }
  | { type: 'log'; level: 'info' | 'warn'; message: string; fields?: Record<string, unknown> };

export interface Step {
  state: Lifecycle;
  effects: Effect[];
}

export function initialLifecycle(paired: boolean, version?: WaVersion): Lifecycle {
  return { phase: { kind: 'idle' }, status: { state: paired ? 'connecting' : 'unpaired' }, attempt: 0, versionRefreshes: 0, version };
}

/** Whether status() adds `standby` (and the holder): waiting for the lease, or paused while waiting. */
export function showsStandby(phase: Phase): boolean {
  return phase.kind === 'standby' || (phase.kind === 'paused' && phase.standby !== undefined);
}

/** Phases with a socket: only these see connection events. */
const hasSocket = (phase: Phase) => phase.kind === 'connecting' || phase.kind === 'pairing' || phase.kind === 'open';
/** Phases where the session wants to run: they follow the lease (losing it means standby). */
const wantsToRun = (phase: Phase) => phase.kind !== 'paused' && phase.kind !== 'unlinking' && phase.kind !== 'stopped';
/** A wipe in progress decides the outcome: admin actions wait for it. */
const wiping = (phase: Phase) => phase.kind === 'logging-out' || phase.kind === 'unlinking';

const withMe = (f: Facts) => (f.me ? { me: f.me } : {});
const keepLastDisconnect = (s: SessionStatus) => (s.last_disconnect ? { last_disconnect: s.last_disconnect } : {});
const pairingPhone = (phase: Phase) =>
  phase.kind === 'pairing' || phase.kind === 'reconnecting' || phase.kind === 'refreshing-version' ? phase.phone : undefined;
const same = (state: Lifecycle): Step => ({ state, effects: [] });

/** Another sidecar holds the lease: close, stop any reconnect timer, say who holds it. */
function holdForLease(s: Lifecycle, f: Facts, before: Effect[] = []): Step {
  const seen = s.phase.kind === 'standby' ? s.phase.reloadOnLease : s.phase.kind === 'paused' && s.phase.standby?.reloadOnLease === true;
  return {
    state: {
      ...s,
      phase: { kind: 'standby', reloadOnLease: seen || f.holder !== undefined },
      status: {
        state: 'paused',
        ...withMe(f),
        last_disconnect: { reason: `another sidecar holds the session${f.holder ? ` (${f.holder})` : ''}`, at: f.at },
      },
    },
    effects: [...before, { type: 'cancel-reconnect' }, { type: 'close-socket', reason: 'another sidecar holds the session' }],
  };
}

/** Opens a socket (with the stored creds, or for pairing when unpaired), unless the lease is another's. */
function openSocket(s: Lifecycle, f: Facts, phone?: string, before: Effect[] = []): Step {
  if (!f.leaseHeld) return holdForLease(s, f, before);
  const status: SessionStatus =
    s.status.state === 'pairing' ? s.status : { state: f.paired ? 'connecting' : 'pairing', ...keepLastDisconnect(s.status) };
  return {
    state: { ...s, phase: f.paired ? { kind: 'connecting' } : { kind: 'pairing', phone }, status },
    effects: [...before, { type: 'cancel-reconnect' }, { type: 'open-socket', version: s.version }],
  };
}

/** The socket closed by itself: what to do by close code (disconnect-policy.ts), never looping. */
function onClosed(s: Lifecycle, code: number | undefined, f: Facts): Step {
  const action = disconnectAction(code);
  const lastDisconnect: LastDisconnect = { code, reason: describeDisconnect(code), at: f.at };
  const before: Effect[] = [
    { type: 'close-socket', reason: 'connection closed before the server acknowledged' },
    { type: 'log', level: 'warn', message: 'WhatsApp connection closed', fields: { code, action: action.kind } },
  ];
  const phone = pairingPhone(s.phase);
  switch (action.kind) {
    case 'reconnect-now': // 515 after pairing: the new creds log in at once
      return openSocket(
        { ...s, status: { state: f.paired ? 'connecting' : 'pairing', last_disconnect: lastDisconnect } },
        f,
        phone,
        before,
      );
    case 'logged-out': // 401: the status changes once the wipe is done
      return { state: { ...s, phase: { kind: 'logging-out', lastDisconnect } }, effects: [...before, { type: 'wipe-auth' }] };
    case 'stop': // 440, 403: reconnecting would fight the other session or be refused again
      return {
        state: {
          ...s,
          phase: { kind: 'paused', cause: 'refused' },
          status: { state: 'paused', ...withMe(f), last_disconnect: { ...lastDisconnect, reason: action.reason } },
        },
        effects: before,
      };
    case 'refresh-version': {
      const versionRefreshes = s.versionRefreshes + 1;
      if (versionRefreshes > MAX_VERSION_REFRESHES)
        return {
          state: {
            ...s,
            versionRefreshes,
            phase: { kind: 'paused', cause: 'refused' },
            status: {
              state: 'paused',
              last_disconnect: { ...lastDisconnect, reason: 'WhatsApp Web version still refused after refreshing it' },
            },
          },
          effects: before,
        };
      return {
        state: { ...s, versionRefreshes, phase: { kind: 'refreshing-version', lastDisconnect, phone } },
        effects: [...before, { type: 'fetch-version' }],
      };
    }
    case 'reconnect-backoff':
      // Unpaired, this is a QR nobody scanned expiring: back to unpaired rather than cycling QRs forever.
      if (!f.paired)
        return {
          state: { ...s, phase: { kind: 'idle' }, status: { state: 'unpaired', last_disconnect: lastDisconnect } },
          effects: before,
        };
      return {
        state: {
          ...s,
          attempt: s.attempt + 1,
          phase: { kind: 'reconnecting' },
          status: { state: 'connecting', ...withMe(f), last_disconnect: lastDisconnect },
        },
        effects: [...before, { type: 'schedule-reconnect', delayMs: backoffDelayMs(s.attempt, f.random) }],
      };
  }
}

/** The lease is ours (again), the creds current: connect when paired, else wait for pairing. */
function resume(s: Lifecycle, f: Facts): Step {
  if (f.paired) return openSocket(s, f);
  return { state: { ...s, phase: { kind: 'idle' }, status: { state: 'unpaired' } }, effects: [] };
}

export function transition(s: Lifecycle, event: LifecycleEvent, f: Facts): Step {
  const { phase } = s;
  if (phase.kind === 'stopped') return same(s);
  switch (event.type) {
    case 'start':
      // A standby waits for the lease even when unpaired: the holder may pair meanwhile.
      if (!f.leaseHeld) return holdForLease(s, f);
      if (f.paired) return openSocket(s, f);
      return same({ ...s, status: { state: s.status.state === 'logged_out' ? 'logged_out' : 'unpaired' } });

    case 'pair':
      if (f.paired || wiping(phase)) return same(s);
      return openSocket({ ...s, status: { state: 'pairing' } }, f, event.phone);

    case 'connect':
      if (!f.paired || wiping(phase)) return same(s);
      if (hasSocket(phase)) return same({ ...s, attempt: 0, versionRefreshes: 0 });
      // Paused while a standby, the lease came meanwhile: another holder may have moved the creds on.
      if (phase.kind === 'paused' && phase.standby?.reloadOnLease && f.leaseHeld)
        return { state: { ...s, attempt: 0, versionRefreshes: 0, phase: { kind: 'reloading' } }, effects: [{ type: 'reload-auth' }] };
      return openSocket({ ...s, attempt: 0, versionRefreshes: 0 }, f);

    case 'disconnect': {
      if (wiping(phase)) return same(s);
      const standby =
        phase.kind === 'standby' ? { reloadOnLease: phase.reloadOnLease } : phase.kind === 'paused' ? phase.standby : undefined;
      return {
        state: {
          ...s,
          phase: { kind: 'paused', cause: 'admin', ...(standby ? { standby } : {}) },
          status: { state: f.paired ? 'paused' : 'unpaired', ...withMe(f) },
        },
        effects: [{ type: 'cancel-reconnect' }, { type: 'close-socket', reason: 'paused' }],
      };
    }

    case 'unlink':
      // A standby must not wipe the creds the holder is using: unlink on the holder's page.
      if (!f.leaseHeld || phase.kind === 'unlinking') return same(s);
      return {
        state: { ...s, phase: { kind: 'unlinking' } },
        effects: [{ type: 'cancel-reconnect' }, { type: 'unlink', logout: phase.kind === 'open' }],
      };

    case 'wiped':
      if (phase.kind === 'logging-out')
        return same({ ...s, phase: { kind: 'idle' }, status: { state: 'logged_out', last_disconnect: phase.lastDisconnect } });
      if (phase.kind === 'unlinking') return same({ ...s, phase: { kind: 'paused', cause: 'unlinked' }, status: { state: 'logged_out' } });
      return same(s);

    case 'stop':
      return {
        state: { ...s, phase: { kind: 'stopped' } },
        effects: [{ type: 'cancel-reconnect' }, { type: 'close-socket', reason: 'sidecar stopping' }],
      };

    case 'qr': {
      if (!hasSocket(phase)) return same(s);
      const phone = pairingPhone(phase);
      if (phone) return { state: { ...s, phase: { kind: 'pairing' } }, effects: [{ type: 'request-pairing-code', phone }] };
      // Once a pairing code is shown, later QRs would only replace it.
      if (s.status.pairing_code) return same(s);
      return {
        state: { ...s, phase: { kind: 'pairing' }, status: { ...s.status, state: 'pairing', qr: event.qr } },
        effects: [{ type: 'print-qr', qr: event.qr }],
      };
    }

    case 'pairing-code': {
      if (phase.kind !== 'pairing') return same(s); // the socket it was for is gone
      const { qr: _qr, ...rest } = s.status;
      return same({ ...s, status: { ...rest, state: 'pairing', pairing_code: event.code } });
    }

    case 'opened':
      if (!hasSocket(phase)) return same(s);
      return {
        state: {
          ...s,
          phase: { kind: 'open' },
          attempt: 0,
          versionRefreshes: 0,
          status: { state: 'open', ...withMe(f), ...keepLastDisconnect(s.status) },
        },
        effects: [{ type: 'log', level: 'info', message: 'WhatsApp connection open' }],
      };

    case 'closed':
      if (!hasSocket(phase))
        return { state: s, effects: [{ type: 'close-socket', reason: 'connection closed before the server acknowledged' }] };
      return onClosed(s, event.code, f);

    case 'version-fetched': {
      const next = { ...s, version: event.version ?? s.version };
      if (phase.kind !== 'refreshing-version') return same(next);
      return {
        state: {
          ...next,
          phase: { kind: 'reconnecting', phone: phase.phone },
          status: { state: f.paired ? 'connecting' : 'unpaired', last_disconnect: phase.lastDisconnect },
        },
        effects: [{ type: 'schedule-reconnect', delayMs: backoffDelayMs(s.versionRefreshes - 1, f.random) }],
      };
    }

    case 'timer':
      if (phase.kind !== 'reconnecting') return same(s);
      return openSocket(s, f, phase.phone);

    case 'lease':
      if (!event.held) {
        if (!wantsToRun(phase)) return { state: s, effects: [{ type: 'close-socket', reason: 'session lease lost' }] };
        return holdForLease(s, f, [{ type: 'log', level: 'warn', message: 'lost the session lease; closing the WhatsApp connection' }]);
      }
      if (phase.kind !== 'standby') return same(s);
      // Another sidecar may have changed the stored creds meanwhile; if nobody else held the lease
      // (a storage outage outlived it), ours in memory are the newest and must not be replaced.
      if (phase.reloadOnLease) return { state: { ...s, phase: { kind: 'reloading' } }, effects: [{ type: 'reload-auth' }] };
      return resume(s, f);

    case 'reloaded':
      if (phase.kind !== 'reloading') return same(s);
      return resume(s, f);
  }
}
