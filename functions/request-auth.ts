/**
 * Authenticates an HTTP request's API key, with the per-address brake on failures: an address that
 * failed too often gets 429 before its next key is even checked. Used by every route, first.
 */
import type { HttpRequest } from '@azure/functions';
import type { ApiKeyRecord } from '../shared/api-keys.js';
import type { RateLimiter } from '../shared/rate-limiter.js';
import type { ApiKeyAuthenticator } from './api-key-auth.js';
import { clientAddress } from './client-address.js';
import { addressRateLimited, unauthorized } from './http-errors.js';

/**
 * `noKeyReason`: why the body could not carry a key (not JSON, form-encoded…); the 401 says so when
 * the X-API-KEY header is absent too.
 */
export type RequestAuthenticator = (request: HttpRequest, keyFromBody?: string, noKeyReason?: string) => Promise<ApiKeyRecord>;

export function createRequestAuthenticator(deps: { auth: ApiKeyAuthenticator; failedAuthLimiter: RateLimiter }): RequestAuthenticator {
  return async (request, keyFromBody, noKeyReason) => {
    const address = clientAddress(request);
    const blocked = deps.failedAuthLimiter.peek(address);
    if (!blocked.allowed) throw addressRateLimited(blocked);
    const header = request.headers.get('x-api-key') ?? '';
    const key = keyFromBody !== undefined && keyFromBody !== '' ? keyFromBody : header;
    const record = key === '' ? undefined : await deps.auth.authenticate(key);
    if (!record) {
      deps.failedAuthLimiter.hit(address);
      throw unauthorized(key === '' ? noKeyReason : undefined);
    }
    return record;
  };
}
