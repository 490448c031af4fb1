/**
 * The logger handed to Baileys: the sidecar's own (child) logger with known noise demoted to debug.
 * Baileys warns "DANGER: DISABLING ALL SYNC…" on every socket it opens when history sync is off,
 * which is our deliberate setting (a notifier reads no history); at warn it filled the log with
 * one alarming line per pairing attempt and reconnect.
 */
import type { Logger } from '../shared/logger.js';

const DEMOTED = [/DANGER: DISABLING ALL SYNC/];

function isDemoted(args: readonly unknown[]): boolean {
  // pino's call forms: (msg), (obj, msg), (obj, msg, ...interpolation).
  const msg = typeof args[0] === 'string' ? args[0] : args[1];
  return typeof msg === 'string' && DEMOTED.some((pattern) => pattern.test(msg));
}

/** Wraps `log` (and the children Baileys makes from it) so demoted warnings are logged at debug. */
export function createBaileysLogger(log: Logger): Logger {
  return new Proxy(log, {
    get(target, property, receiver) {
      if (property === 'warn') {
        return (...args: unknown[]) => {
          const level = isDemoted(args) ? target.debug : target.warn;
          (level as (...a: unknown[]) => void).apply(target, args);
        };
      }
      if (property === 'child') {
        // Baileys names its components with child({ class: … }) and never passes options.
        return (bindings: Record<string, unknown>) => createBaileysLogger(target.child(bindings));
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}
