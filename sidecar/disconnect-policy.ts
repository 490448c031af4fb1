/**
 * What to do when WhatsApp closes the connection, by reason (FIELD-NOTES: handling 440, 515 and
 * 401 alike is what makes gateways loop or lose sessions).
 */
export type DisconnectAction =
  | { kind: 'reconnect-now' }
  | { kind: 'reconnect-backoff' }
  | { kind: 'refresh-version' }
  | { kind: 'logged-out' }
  | { kind: 'stop'; reason: string };

export const DISCONNECT_REASONS: Record<number, string> = {
  401: 'logged out from the phone',
  403: 'forbidden by WhatsApp',
  405: 'WhatsApp Web version out of date',
  408: 'connection lost or timed out',
  411: 'multi-device mismatch',
  428: 'connection closed',
  440: 'connection replaced by another session',
  500: 'bad session',
  503: 'WhatsApp unavailable',
  515: 'restart required',
};

export function describeDisconnect(code: number | undefined): string {
  return (code !== undefined && DISCONNECT_REASONS[code]) || (code !== undefined ? `closed with code ${code}` : 'connection closed');
}

export function disconnectAction(code: number | undefined): DisconnectAction {
  switch (code) {
    case 515:
      return { kind: 'reconnect-now' };
    case 401:
      return { kind: 'logged-out' };
    case 440:
      return { kind: 'stop', reason: 'connection replaced by another session (440); not reconnecting so the two do not fight' };
    case 403:
      return { kind: 'stop', reason: 'forbidden by WhatsApp (403)' };
    case 405:
      return { kind: 'refresh-version' };
    default:
      return { kind: 'reconnect-backoff' };
  }
}
