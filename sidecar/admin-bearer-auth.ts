/**
 * Bearer-password authorisation for the admin API (scripts: `Authorization: Bearer <password>`).
 * With no password configured nothing is authorised: an open admin API on a host reachable from
 * a tunnel is how gateways get hijacked.
 */
import type { IncomingMessage } from 'node:http';
import { bearerToken, secretsEqual } from '../shared/constant-time.js';

export function isBearerAuthorized(req: IncomingMessage, password: string | undefined): boolean {
  const token = bearerToken(req.headers.authorization);
  return password !== undefined && token !== undefined && secretsEqual(token, password);
}
