/** What the bench measures and reports: one figure against its floor, and Table requests per path. */
import type { RequestKind } from '../test/support/storage-request-counter.js';

export interface Figure {
  bench: string;
  name: string;
  value: number;
  /** how to print the value when it is more than one number (e.g. "p50 / p99") */
  display?: string;
  unit: string;
  floor?: { name: string; value: number; display?: string; unit: string };
  ratio?: number;
  ratioOf?: string;
  target?: string;
  pass?: boolean;
  detail?: Record<string, unknown>;
}

export interface RequestPath {
  path: string;
  /** What the counts are divided by: notifications, or idle minutes. */
  per: string;
  count: number;
  seconds: number;
  perKind: Record<RequestKind, number>;
  /** Azurite's answer time summed over the requests, per unit (ms). */
  storageMsPer: number;
  shapes: [string, number][];
}
