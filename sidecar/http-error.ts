/**
 * A refusal that a sidecar HTTP handler throws; http-router.ts turns it into the JSON error body
 * (`{"status":"error","message","field"?}`) in one place, so handlers never write error bodies.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly options: { field?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
