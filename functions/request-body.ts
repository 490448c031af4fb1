/**
 * Reads a request body as JSON whatever the Content-Type says (contract), with the size cap checked
 * before and after reading, and invalid UTF-8 refused rather than silently replaced.
 */
import type { HttpRequest } from '@azure/functions';

export const MAX_BODY_BYTES = 256 * 1024;

export type BodyResult = { kind: 'json'; value: unknown } | { kind: 'invalid'; message: string; empty?: true } | { kind: 'tooLarge' };

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export async function readJsonBody(request: HttpRequest, maxBytes = MAX_BODY_BYTES): Promise<BodyResult> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (Number.isFinite(declared) && declared > maxBytes) return { kind: 'tooLarge' };
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxBytes) return { kind: 'tooLarge' };
  if (bytes.byteLength === 0) return { kind: 'invalid', message: 'body must be a JSON object', empty: true };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { kind: 'invalid', message: 'body must be UTF-8 encoded JSON' };
  }
  try {
    return { kind: 'json', value: JSON.parse(text) };
  } catch {
    return { kind: 'invalid', message: 'body must be valid JSON' };
  }
}

const SEND_INSTEAD = 'send a JSON object or the X-API-KEY header';

/**
 * Why a body that is not a JSON object carried no API key, for the 401 (contract v1.1): a form post
 * with the right key in it otherwise looks like a wrong key.
 */
export function whyNoKeyInBody(request: HttpRequest, body: BodyResult): string | undefined {
  if (body.kind === 'tooLarge') return undefined;
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (body.kind === 'json') return `the body is JSON but not an object; ${SEND_INSTEAD}`;
  if (body.empty) return `the body is empty; ${SEND_INSTEAD}`;
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data')
    return `the body is form-encoded, not JSON; ${SEND_INSTEAD}`;
  return `the body is not JSON; ${SEND_INSTEAD}`;
}
