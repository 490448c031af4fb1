/**
 * Bearer-password authorisation for the admin API (scripts: `Authorization: Bearer <password>`).
 * With no password configured nothing is authorised: an open admin API on a host reachable from
 * a tunnel is how gateways get hijacked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, secretsEqual } from '../shared/constant-time.js';
import { sendJson } from './json-http.js';

export function isBearerAuthorized(req: IncomingMessage, password: string | undefined): boolean {
  const token = bearerToken(req.headers.authorization);
  return password !== undefined && token !== undefined && secretsEqual(token, password);
}

export function refuseAdmin(res: ServerResponse, password: string | undefined): void {
  sendJson(res, 401, {
    status: 'error',
    message: password === undefined ? 'Admin is disabled: set WHATSAPP_ADMIN_PASSWORD' : 'Sign in required',
  });
}
