/**
 * The session lifecycle's transition function, without a socket: every close code's path, the
 * no-loop guarantees (440, 403 and repeated 405 stop; backoff grows; an expired QR is not cycled),
 * pause and lease loss winning over reconnect timers, pairing, unlink and stop.
 */
import {
  initialLifecycle,
  MAX_VERSION_REFRESHES,
  showsStandby,
  transition,
  type Effect,
  type Facts,
  type Lifecycle,
  type LifecycleEvent,
} from '../../sidecar/session-lifecycle.js';

const ME = '15550001111@s.whatsapp.net';
const AT = '2026-11-25T20:00:00.000Z';
const facts = (over: Partial<Facts> = {}): Facts => ({ paired: true, me: ME, leaseHeld: true, at: AT, random: () => 1, ...over });

/** Applies events in order (each with its own facts), collecting every effect. */
function play(state: Lifecycle, steps: (LifecycleEvent | [LifecycleEvent, Partial<Facts>])[]) {
  const effects: Effect[] = [];
  for (const item of steps) {
    const [event, over] = Array.isArray(item) ? item : [item, {}];
    const step = transition(state, event, facts(over));
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}
const types = (effects: Effect[]) => effects.filter((e) => e.type !== 'log').map((e) => e.type);
const delays = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'schedule-reconnect' ? [e.delayMs] : []));
const opens = (effects: Effect[]) => effects.filter((e) => e.type === 'open-socket').length;

/** A paired session whose socket is open. */
const open = () => play(initialLifecycle(true), [{ type: 'start' }, { type: 'opened' }]).state;

/**
 * Runs the session against a server that closes every socket with `code`, answering each effect the
 * way the shell would (timer fires, version fetched, wipe done), for at most `rounds` events.
 */
function againstServerThatCloses(code: number | undefined, rounds = 40) {
  let { state } = play(open(), []);
  let next: LifecycleEvent | undefined = { type: 'closed', code };
  let sockets = 0;
  const scheduled: number[] = [];
  for (let i = 0; i < rounds && next; i++) {
    const step = transition(state, next, facts());
    state = step.state;
    next = undefined;
    for (const e of step.effects) {
      if (e.type === 'open-socket') {
        sockets++;
        next = { type: 'closed', code };
      } else if (e.type === 'schedule-reconnect') {
        scheduled.push(e.delayMs);
        next = { type: 'timer' };
      } else if (e.type === 'fetch-version') next = { type: 'version-fetched', version: [2, 3000, 1] };
      else if (e.type === 'wipe-auth') next = { type: 'wiped' };
    }
  }
  return { state, sockets, scheduled, settled: next === undefined };
}

describe('start', () => {
  test('paired: opens a socket and says connecting', () => {
    const { state, effects } = play(initialLifecycle(true), [{ type: 'start' }]);
    expect(state.phase).toEqual({ kind: 'connecting' });
    expect(state.status).toEqual({ state: 'connecting' });
    expect(types(effects)).toEqual(['cancel-reconnect', 'open-socket']);
  });

  test('unpaired: stays unpaired without a socket', () => {
    const { state, effects } = play(initialLifecycle(false), [[{ type: 'start' }, { paired: false }]]);
    expect(state.status).toEqual({ state: 'unpaired' });
    expect(opens(effects)).toBe(0);
  });

  test('without the lease: a standby, paused, naming the holder, no socket', () => {
    const { state, effects } = play(initialLifecycle(true), [[{ type: 'start' }, { leaseHeld: false, holder: 'sidecar-a' }]]);
    expect(state.phase).toEqual({ kind: 'standby', reloadOnLease: true });
    expect(showsStandby(state.phase)).toBe(true);
    expect(state.status).toEqual({
      state: 'paused',
      me: ME,
      last_disconnect: { reason: 'another sidecar holds the session (sidecar-a)', at: AT },
    });
    expect(opens(effects)).toBe(0);
  });

  test('open: says so with the number, and resets the retry counters', () => {
    const s = open();
    expect(s.phase).toEqual({ kind: 'open' });
    expect(s.status).toEqual({ state: 'open', me: ME });
    expect([s.attempt, s.versionRefreshes]).toEqual([0, 0]);
  });
});

describe('close codes', () => {
  test('515 restart required: a new socket at once, no timer', () => {
    const { state, effects } = play(open(), [{ type: 'closed', code: 515 }]);
    expect(types(effects)).toEqual(['close-socket', 'cancel-reconnect', 'open-socket']);
    expect(state.phase).toEqual({ kind: 'connecting' });
    expect(state.status).toEqual({ state: 'connecting', last_disconnect: { code: 515, reason: 'restart required', at: AT } });
  });

  test('515 right after pairing (creds not yet paired): the pairing socket is reopened', () => {
    const { state, effects } = play(initialLifecycle(false), [
      [{ type: 'pair' }, { paired: false }],
      [{ type: 'closed', code: 515 }, { paired: false }],
    ]);
    expect(opens(effects)).toBe(2);
    expect(state.status.state).toBe('pairing');
  });

  test.each([408, 428, 500, 503, 411, undefined])('%s while paired: reconnects after a backoff', (code) => {
    const { state, effects } = play(open(), [{ type: 'closed', code }]);
    expect(types(effects)).toEqual(['close-socket', 'schedule-reconnect']);
    expect(state.phase).toEqual({ kind: 'reconnecting' });
    expect(state.status).toMatchObject({ state: 'connecting', me: ME, last_disconnect: { code } });
    const fired = play(state, [{ type: 'timer' }]);
    expect(opens(fired.effects)).toBe(1);
  });

  test('a dropped pairing socket (the QR expired) goes back to unpaired instead of cycling QRs', () => {
    const { state, effects } = play(initialLifecycle(false), [
      [{ type: 'pair' }, { paired: false }],
      [{ type: 'qr', qr: 'qr-1' }, { paired: false }],
      [{ type: 'closed', code: 408 }, { paired: false }],
    ]);
    expect(state.phase).toEqual({ kind: 'idle' });
    expect(state.status).toEqual({ state: 'unpaired', last_disconnect: { code: 408, reason: 'connection lost or timed out', at: AT } });
    expect(types(effects)).not.toContain('schedule-reconnect');
    expect(opens(effects)).toBe(1);
  });

  test('440 replaced: paused with the reason, never reconnects, until an admin connects', () => {
    const { state, effects } = play(open(), [{ type: 'closed', code: 440 }]);
    expect(state.phase).toEqual({ kind: 'paused', cause: 'refused' });
    expect(state.status).toEqual({
      state: 'paused',
      me: ME,
      last_disconnect: { code: 440, reason: expect.stringContaining('440'), at: AT },
    });
    expect(types(effects)).toEqual(['close-socket']);
    // Nothing but connect brings it back: not a timer, not the lease, not start.
    const after = play(state, [{ type: 'timer' }, { type: 'lease', held: true }, { type: 'opened' }]);
    expect(opens(after.effects)).toBe(0);
    expect(after.state.phase.kind).toBe('paused');
    expect(opens(play(state, [{ type: 'connect' }]).effects)).toBe(1);
  });

  test('403 forbidden: paused with the reason, no reconnect', () => {
    const { state, effects } = play(open(), [{ type: 'closed', code: 403 }]);
    expect(state.status).toMatchObject({ state: 'paused', last_disconnect: { code: 403, reason: expect.stringContaining('forbidden') } });
    expect(types(effects)).toEqual(['close-socket']);
  });

  test('405 stale version: fetches the version, then reconnects with it after a delay', () => {
    const closed = play(open(), [{ type: 'closed', code: 405 }]);
    expect(types(closed.effects)).toEqual(['close-socket', 'fetch-version']);
    expect(closed.state.status.state).toBe('open'); // unchanged while fetching (the socket is already closed)
    const fetched = play(closed.state, [{ type: 'version-fetched', version: [2, 3000, 42] }]);
    expect(types(fetched.effects)).toEqual(['schedule-reconnect']);
    expect(fetched.state.status).toMatchObject({ state: 'connecting', last_disconnect: { code: 405 } });
    const fired = play(fetched.state, [{ type: 'timer' }]);
    expect(fired.effects).toContainEqual({ type: 'open-socket', version: [2, 3000, 42] });
  });

  test('405 while unpaired: says unpaired while it waits, then opens a pairing socket', () => {
    const { state, effects } = play(initialLifecycle(false), [
      [{ type: 'pair', phone: '15550001111' }, { paired: false }],
      [{ type: 'closed', code: 405 }, { paired: false }],
      [{ type: 'version-fetched' }, { paired: false }],
    ]);
    expect(state.status.state).toBe('unpaired');
    const fired = play(state, [[{ type: 'timer' }, { paired: false }]]);
    expect(fired.state.phase).toEqual({ kind: 'pairing', phone: '15550001111' }); // the code is still requested
    expect(opens(effects) + opens(fired.effects)).toBe(2);
  });

  test(`405 again and again: ${MAX_VERSION_REFRESHES} refreshes, then paused (no loop)`, () => {
    const run = againstServerThatCloses(405);
    expect(run.settled).toBe(true);
    expect(run.sockets).toBe(MAX_VERSION_REFRESHES);
    expect(run.state.phase).toEqual({ kind: 'paused', cause: 'refused' });
    expect(run.state.status.last_disconnect).toMatchObject({ code: 405, reason: 'WhatsApp Web version still refused after refreshing it' });
  });

  test('405 refreshes count from the last open: an open in between starts again', () => {
    let s = open();
    for (let i = 0; i < MAX_VERSION_REFRESHES + 2; i++)
      s = play(s, [{ type: 'closed', code: 405 }, { type: 'version-fetched' }, { type: 'timer' }, { type: 'opened' }]).state;
    expect(s.phase.kind).toBe('open');
  });

  test('401 logged out: wipes, then logged_out, and never reconnects', () => {
    const closed = play(open(), [{ type: 'closed', code: 401 }]);
    expect(types(closed.effects)).toEqual(['close-socket', 'wipe-auth']);
    expect(closed.state.phase.kind).toBe('logging-out');
    const wiped = play(closed.state, [[{ type: 'wiped' }, { paired: false, me: undefined }]]);
    expect(wiped.state.status).toEqual({
      state: 'logged_out',
      last_disconnect: { code: 401, reason: 'logged out from the phone', at: AT },
    });
    const later = play(wiped.state, [
      [{ type: 'timer' }, { paired: false }],
      [{ type: 'connect' }, { paired: false }],
      [{ type: 'start' }, { paired: false }],
    ]);
    expect(opens(later.effects)).toBe(0);
    expect(later.state.status.state).toBe('logged_out');
  });

  test.each([440, 403, 401])('%s against a server that keeps refusing: no new socket at all', (code) => {
    const run = againstServerThatCloses(code);
    expect(run.settled).toBe(true);
    expect(run.sockets).toBe(0);
    expect(run.scheduled).toEqual([]);
  });

  test('515 against a server that keeps asking for a restart reconnects each time (it is what 515 asks)', () => {
    const run = againstServerThatCloses(515, 10);
    expect(run.sockets).toBe(10);
    expect(run.scheduled).toEqual([]);
  });

  test('dropped again and again: the backoff grows to its cap, and an open resets it', () => {
    const run = againstServerThatCloses(428, 30);
    expect(run.scheduled.slice(0, 7)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]);
    expect(Math.max(...run.scheduled)).toBe(60_000);
    const reopened = play(run.state, [{ type: 'opened' }, { type: 'closed', code: 428 }]);
    expect(delays(reopened.effects)).toEqual([1_000]);
  });

  test('an admin connect resets the backoff', () => {
    const { state } = play(open(), [{ type: 'closed' }, { type: 'timer' }, { type: 'closed' }, { type: 'timer' }, { type: 'closed' }]);
    expect(state.attempt).toBe(3);
    const connected = play(state, [{ type: 'connect' }, { type: 'closed' }]);
    expect(delays(connected.effects)).toEqual([1_000]);
  });
});

describe('pause wins', () => {
  test('a pause while a reconnect is scheduled cancels it; the timer then opens nothing', () => {
    const { state } = play(open(), [{ type: 'closed', code: 428 }]);
    const paused = play(state, [{ type: 'disconnect' }, { type: 'timer' }]);
    expect(paused.effects.slice(0, 2)).toEqual([{ type: 'cancel-reconnect' }, { type: 'close-socket', reason: 'paused' }]);
    expect(opens(paused.effects)).toBe(0);
    expect(paused.state.phase).toEqual({ kind: 'paused', cause: 'admin' });
    expect(paused.state.status).toEqual({ state: 'paused', me: ME });
  });

  test('a pause during a version fetch: the fetched version schedules nothing', () => {
    const { state, effects } = play(open(), [
      { type: 'closed', code: 405 },
      { type: 'disconnect' },
      { type: 'version-fetched', version: [2, 3000, 7] },
    ]);
    expect(types(effects)).not.toContain('schedule-reconnect');
    expect(state.status.state).toBe('paused');
    expect(state.version).toEqual([2, 3000, 7]); // kept for the next connect
  });

  test('a pause when unpaired says unpaired', () => {
    const { state } = play(initialLifecycle(false), [[{ type: 'disconnect' }, { paired: false, me: undefined }]]);
    expect(state.status).toEqual({ state: 'unpaired' });
  });

  test('connect on an open socket opens no second one', () => {
    expect(opens(play(open(), [{ type: 'connect' }]).effects)).toBe(0);
  });

  test('connect while a reconnect is scheduled cancels the timer before opening', () => {
    const { state } = play(open(), [{ type: 'closed' }]);
    const { effects } = play(state, [{ type: 'connect' }]);
    expect(types(effects)).toEqual(['cancel-reconnect', 'open-socket']);
  });
});

describe('session lease', () => {
  test('lost while open: the socket closes at once and the standby names the holder', () => {
    const { state, effects } = play(open(), [
      [
        { type: 'lease', held: false },
        { leaseHeld: false, holder: 'sidecar-b' },
      ],
    ]);
    expect(types(effects)).toEqual(['cancel-reconnect', 'close-socket']);
    expect(state.phase).toEqual({ kind: 'standby', reloadOnLease: true });
    expect(state.status.last_disconnect?.reason).toBe('another sidecar holds the session (sidecar-b)');
  });

  test('lost while a reconnect is scheduled: the timer is cancelled and opens nothing', () => {
    const { state } = play(open(), [{ type: 'closed', code: 428 }]);
    const lost = play(state, [
      [{ type: 'lease', held: false }, { leaseHeld: false }],
      [{ type: 'timer' }, { leaseHeld: false }],
      [{ type: 'connect' }, { leaseHeld: false }],
    ]);
    expect(types(lost.effects)).toContain('cancel-reconnect');
    expect(opens(lost.effects)).toBe(0); // not even an admin connect gets around the lease
    expect(lost.state.phase.kind).toBe('standby');
  });

  test('regained after another holder: the stored creds are re-read before connecting', () => {
    const { state } = play(initialLifecycle(true), [[{ type: 'start' }, { leaseHeld: false, holder: 'sidecar-a' }]]);
    const gained = play(state, [{ type: 'lease', held: true }]);
    expect(gained.state.phase).toEqual({ kind: 'reloading' });
    expect(types(gained.effects)).toEqual(['reload-auth']);
    expect(showsStandby(gained.state.phase)).toBe(false);
    const reloaded = play(gained.state, [{ type: 'reloaded' }]);
    expect(opens(reloaded.effects)).toBe(1);
  });

  test('paused as a standby, lease gained meanwhile: connect re-reads the creds another holder may have moved on', () => {
    const { state } = play(initialLifecycle(true), [
      [{ type: 'start' }, { leaseHeld: false, holder: 'sidecar-a' }],
      [{ type: 'disconnect' }, { leaseHeld: false, holder: 'sidecar-a' }],
      { type: 'lease', held: true },
    ]);
    expect(state.phase.kind).toBe('paused');
    const resumed = play(state, [{ type: 'connect' }]);
    expect(resumed.state.phase).toEqual({ kind: 'reloading' });
    expect(types(resumed.effects)).toEqual(['reload-auth']);
    expect(opens(play(resumed.state, [{ type: 'reloaded' }]).effects)).toBe(1);
  });

  test('regained after an outage with no other holder: ours are the newest creds, no reload', () => {
    const { state } = play(open(), [[{ type: 'lease', held: false }, { leaseHeld: false }]]);
    expect(state.phase).toEqual({ kind: 'standby', reloadOnLease: false });
    const gained = play(state, [{ type: 'lease', held: true }]);
    expect(types(gained.effects)).toEqual(['cancel-reconnect', 'open-socket']);
  });

  test('regained while unpaired: unpaired, no socket', () => {
    const { state } = play(initialLifecycle(false), [[{ type: 'start' }, { paired: false, leaseHeld: false, holder: 'a' }]]);
    const { state: after, effects } = play(state, [
      [{ type: 'lease', held: true }, { paired: false }],
      [{ type: 'reloaded' }, { paired: false }],
    ]);
    expect(after.status).toEqual({ state: 'unpaired' });
    expect(opens(effects)).toBe(0);
  });

  test('lost while paused: stays paused (a pause does not follow the lease)', () => {
    const { state } = play(open(), [{ type: 'disconnect' }]);
    const { state: after, effects } = play(state, [[{ type: 'lease', held: false }, { leaseHeld: false }]]);
    expect(types(effects)).toEqual(['close-socket']);
    expect(after.phase).toEqual({ kind: 'paused', cause: 'admin' });
  });

  test('paused while a standby: still shown as standby, and connect waits for the lease again', () => {
    const { state } = play(initialLifecycle(true), [[{ type: 'start' }, { leaseHeld: false, holder: 'a' }], { type: 'disconnect' }]);
    expect(showsStandby(state.phase)).toBe(true);
    const { state: after, effects } = play(state, [[{ type: 'connect' }, { leaseHeld: false }]]);
    expect(opens(effects)).toBe(0);
    expect(after.phase).toEqual({ kind: 'standby', reloadOnLease: true });
  });
});

describe('pairing', () => {
  test('by QR: each QR is shown and printed', () => {
    const { state, effects } = play(initialLifecycle(false), [
      [{ type: 'pair' }, { paired: false }],
      [{ type: 'qr', qr: 'qr-1' }, { paired: false }],
      [{ type: 'qr', qr: 'qr-2' }, { paired: false }],
    ]);
    expect(state.status).toEqual({ state: 'pairing', qr: 'qr-2' });
    expect(effects.filter((e) => e.type === 'print-qr')).toEqual([
      { type: 'print-qr', qr: 'qr-1' },
      { type: 'print-qr', qr: 'qr-2' },
    ]);
  });

  test('by code: the code is requested once, at the first QR, and later QRs do not replace it', () => {
    const { state, effects } = play(initialLifecycle(false), [
      [{ type: 'pair', phone: '15550001111' }, { paired: false }],
      [{ type: 'qr', qr: 'qr-1' }, { paired: false }],
      [{ type: 'pairing-code', code: 'ABCD1234' }, { paired: false }],
      [{ type: 'qr', qr: 'qr-2' }, { paired: false }],
    ]);
    expect(effects.filter((e) => e.type === 'request-pairing-code')).toEqual([{ type: 'request-pairing-code', phone: '15550001111' }]);
    expect(types(effects)).not.toContain('print-qr');
    expect(state.status).toEqual({ state: 'pairing', pairing_code: 'ABCD1234' });
  });

  test('a code that arrives after its socket closed is dropped', () => {
    const { state } = play(initialLifecycle(false), [
      [{ type: 'pair', phone: '15550001111' }, { paired: false }],
      [{ type: 'qr', qr: 'qr-1' }, { paired: false }],
      [{ type: 'closed', code: 408 }, { paired: false }],
      [{ type: 'pairing-code', code: 'ABCD1234' }, { paired: false }],
    ]);
    expect(state.status.state).toBe('unpaired');
    expect(state.status.pairing_code).toBeUndefined();
  });

  test('pair when already paired does nothing', () => {
    const s = open();
    expect(play(s, [{ type: 'pair' }])).toEqual({ state: s, effects: [] });
  });
});

describe('unlink and stop', () => {
  test('unlink while open: logs out, wipes, then logged_out and held there', () => {
    const { state, effects } = play(open(), [{ type: 'unlink' }]);
    expect(effects).toEqual([{ type: 'cancel-reconnect' }, { type: 'unlink', logout: true }]);
    const wiped = play(state, [[{ type: 'wiped' }, { paired: false }]]);
    expect(wiped.state.status).toEqual({ state: 'logged_out' });
    expect(wiped.state.phase).toEqual({ kind: 'paused', cause: 'unlinked' });
  });

  test('unlink on a standby is refused: the holder uses those creds', () => {
    const { state } = play(initialLifecycle(true), [[{ type: 'start' }, { leaseHeld: false, holder: 'a' }]]);
    expect(play(state, [[{ type: 'unlink' }, { leaseHeld: false }]])).toEqual({ state, effects: [] });
  });

  test('admin actions wait for a wipe in progress', () => {
    const { state } = play(open(), [{ type: 'closed', code: 401 }]);
    const { effects, state: after } = play(state, [{ type: 'connect' }, { type: 'disconnect' }, { type: 'pair' }]);
    expect(effects).toEqual([]);
    expect(after.phase.kind).toBe('logging-out');
  });

  test('stop closes everything; nothing happens after it', () => {
    const { state, effects } = play(open(), [{ type: 'closed', code: 428 }, { type: 'stop' }]);
    expect(effects.slice(-2)).toEqual([{ type: 'cancel-reconnect' }, { type: 'close-socket', reason: 'sidecar stopping' }]);
    const after = play(state, [{ type: 'timer' }, { type: 'connect' }, { type: 'lease', held: true }, { type: 'closed', code: 515 }]);
    expect(after.effects).toEqual([]);
  });
});
