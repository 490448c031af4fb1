/**
 * The caller's address for per-address limits. Azure's front end appends the real client address
 * to X-Forwarded-For, so the last entry is the one a client cannot forge; the local host sets the
 * header itself from the socket.
 */
import type { HttpRequest } from '@azure/functions';

export function clientAddress(request: HttpRequest): string {
  const forwarded = request.headers.get('x-forwarded-for');
  if (forwarded) {
    const parts = forwarded.split(',').map((p) => p.trim()).filter((p) => p !== '');
    const last = parts[parts.length - 1];
    if (last) return last.replace(/:\d+$/, (m) => (last.includes('.') ? '' : m));
  }
  return 'unknown';
}
