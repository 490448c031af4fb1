/**
 * The one exception the client throws. `status` is the HTTP status, or 0 when no answer came
 * (network error, timeout); `field` names the request field at fault (400); `report` is the
 * delivery report a 502 (none sent) or 504 (still sending) carries.
 */
import type { DeliveryReportBody } from '../shared/notify-response-schema.js';

export class WaNotifyError extends Error {
  readonly status: number;
  readonly field?: string;
  /** From the Retry-After header (429, 503). */
  readonly retryAfterSeconds?: number;
  /** 502 / 504 in wait mode: who was sent, who failed, who is still pending. */
  readonly report?: DeliveryReportBody;
  /** The notification id, when the server accepted it (502 / 504). */
  readonly id?: string;

  constructor(
    message: string,
    details: { status: number; field?: string; retryAfterSeconds?: number; report?: DeliveryReportBody; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WaNotifyError';
    this.status = details.status;
    if (details.field !== undefined) this.field = details.field;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
    if (details.report !== undefined) {
      this.report = details.report;
      this.id = details.report.id;
    }
  }

  /** True when no HTTP answer arrived (connection refused, reset, DNS, timeout). */
  get isNetworkError(): boolean {
    return this.status === 0;
  }
}
