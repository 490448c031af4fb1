/**
 * The peer's event emitter and the bounded `waitFor` built on it. Every state change emits
 * 'change' (with what changed), so a wait re-checks its predicate at once instead of only polling.
 */
import { EventEmitter } from 'node:events';

/** signals a state change ('connection', 'message', 'ack', …) to pending waits */
export type Changed = (what: string) => void;

export interface PeerEvents {
  readonly events: EventEmitter;
  changed: Changed;
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
}

export function createPeerEvents(): PeerEvents {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const changed: Changed = (what) => {
    events.emit('change', what);
  };

  const waitFor = <T>(predicate: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        let v: T | undefined | null | false;
        try {
          v = predicate();
        } catch (err) {
          cleanup();
          reject(err as Error);
          return true;
        }
        if (v !== undefined && v !== null && v !== false) {
          cleanup();
          resolve(v);
          return true;
        }
        return false;
      };
      const onChange = (): void => {
        check();
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`waitFor timed out after ${timeoutMs}ms`));
      }, timeoutMs);
      // also poll: state the predicate reads may change outside the peer (e.g. client events)
      const poll = setInterval(onChange, 25);
      const cleanup = (): void => {
        clearTimeout(t);
        clearInterval(poll);
        events.off('change', onChange);
      };
      events.on('change', onChange);
      check();
    });

  return { events, changed, waitFor };
}
