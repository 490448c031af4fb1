/**
 * Liveness and readiness of the sidecar, for probes and load balancers (no auth: they say only
 * "up" and which check failed, nothing about notifications or the paired number).
 *
 * - GET /healthz — the process serves HTTP: always 200.
 * - GET /readyz — 200 when WhatsApp is open AND Table storage answers; else 503 with the reasons.
 *   Storage is probed with a point read of a row that never exists (404 = reachable), bounded by
 *   a timeout, so a scrape costs one cheap request. A warm standby (another sidecar holds the
 *   session lease) answers 503 `{"status":"standby","holder":…}`, so a load balancer in front of
 *   several sidecars routes to the holder.
 */
import type { TableStore } from '../shared/table-store.js';
import { isNotFound } from '../shared/table-store.js';
import type { HttpRouter } from './http-router.js';
import { sendJson } from './json-http.js';
import type { WhatsAppSession } from './whatsapp-session.js';

export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';

export interface Readiness {
  ready: boolean;
  standby: boolean;
  holder?: string;
  checks: { whatsapp: string; storage: 'ok' | 'unreachable' };
  reasons: string[];
}

export interface HealthDeps {
  session: WhatsAppSession;
  tables: TableStore;
  storageTimeoutMs?: number;
}

export function createHealth(deps: HealthDeps) {
  const timeoutMs = deps.storageTimeoutMs ?? 3_000;

  const storageReachable = async (): Promise<boolean> => {
    try {
      await deps.tables.ensureTables();
      await deps.tables.client('queue').getEntity('readyz-probe', 'readyz-probe', { abortSignal: AbortSignal.timeout(timeoutMs) });
      return true; // nobody writes this row, but finding it still proves storage answers
    } catch (error) {
      return isNotFound(error);
    }
  };

  const readiness = async (): Promise<Readiness> => {
    const { state, standby, holder } = deps.session.status();
    const whatsappOpen = deps.session.isOpen();
    const storage = (await storageReachable()) ? 'ok' : 'unreachable';
    const reasons: string[] = [];
    if (standby) reasons.push(`standby: ${holder ? `sidecar ${holder}` : 'another sidecar'} holds the WhatsApp session`);
    else if (!whatsappOpen) reasons.push(`WhatsApp is ${state === 'open' ? 'reconnecting' : state}`);
    if (storage !== 'ok') reasons.push('Table storage is unreachable');
    return {
      ready: reasons.length === 0,
      standby: standby === true,
      ...(holder ? { holder } : {}),
      checks: { whatsapp: state, storage },
      reasons,
    };
  };

  return {
    readiness,
    /** Registers /healthz and /readyz. */
    routes(router: HttpRouter): void {
      router.on('GET', HEALTH_PATH, (_req, res) => sendJson(res, 200, { status: 'ok' }));
      router.on('GET', READY_PATH, async (_req, res) => {
        const r = await readiness().catch((): Readiness | undefined => undefined);
        if (!r) return sendJson(res, 503, { status: 'not_ready', reasons: ['readiness check failed'] });
        sendJson(res, r.ready ? 200 : 503, {
          status: r.ready ? 'ready' : r.standby ? 'standby' : 'not_ready',
          ...(r.holder ? { holder: r.holder } : {}),
          checks: r.checks,
          ...(r.ready ? {} : { reasons: r.reasons }),
        });
      });
    },
  };
}
