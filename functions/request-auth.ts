/**
 * Authenticates an HTTP request's API key, with the per-address brake on failures: an address that
 * failed too often gets 429 before its next key is even checked. Used by every route, first.
 */
import type { HttpRequest } from '@azure/functions';
import type { ApiKeyRecord } from '../shared/api-keys.js';
import type { RateLimiter } from '../shared/rate-limiter.js';
import type { ApiKeyAuthenticator } from './api-key-auth.js';
import { clientAddress } from './client-address.js';
import { tooManyRequests, unauthorized } from './http-errors.js';

export type RequestAuthenticator = (request: HttpRequest, keyFromBody?: string) => Promise<ApiKeyRecord>;

export function createRequestAuthenticator(deps: { auth: ApiKeyAuthenticator; failedAuthLimiter: RateLimiter }): RequestAuthenticator {
  return async (request, keyFromBody) => {
    const address = clientAddress(request);
    const blocked = deps.failedAuthLimiter.peek(address);
    if (!blocked.allowed) throw tooManyRequests(blocked.retryAfterSeconds);
    const key = keyFromBody !== undefined && keyFromBody !== '' ? keyFromBody : (request.headers.get('x-api-key') ?? '');
    const record = key === '' ? undefined : await deps.auth.authenticate(key);
    if (!record) {
      deps.failedAuthLimiter.hit(address);
      throw unauthorized();
    }
    return record;
  };
}
