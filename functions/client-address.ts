/**
 * The caller's address for per-address limits. Azure's front end appends the real client address
 * to X-Forwarded-For, so the last entry is the one a client cannot forge; the local host sets the
 * header itself from the socket.
 */
import type { HttpRequest } from '@azure/functions';
import { lastForwardedAddress } from '../shared/forwarded-address.js';

export function clientAddress(request: HttpRequest): string {
  const last = lastForwardedAddress(request.headers.get('x-forwarded-for') ?? undefined);
  // Azure appends `ip:port` for IPv4; an IPv6 address keeps its colons.
  return last ? last.replace(/:\d+$/, (m) => (last.includes('.') ? '' : m)) : 'unknown';
}
