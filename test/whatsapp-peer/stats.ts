/** Counters of what the peer saw; tests, bench and chaos read them through `peer.stats`. */
export interface PeerStats {
  connectionsOpened: number;
  handshakes: number;
  logins: number;
  loginFailures: number;
  pairings: number;
  currentConnections: number;
  /** logged-in connections currently open */
  currentLogins: number;
  /**
   * The most logged-in connections open at once (a newer login is counted before the older one is
   * replaced): more than 1 means two clients were logged in to the session together. Tests may
   * reset it to `currentLogins` to measure a window.
   */
  maxLogins: number;
  /**
   * Messages whose (recipient, id) had already been received: a resend of the same message, which a
   * device shows once. Acked like any message but not added to `received` again.
   */
  duplicates: number;
}

export const createStats = (): PeerStats => ({
  connectionsOpened: 0,
  handshakes: 0,
  logins: 0,
  loginFailures: 0,
  pairings: 0,
  currentConnections: 0,
  currentLogins: 0,
  maxLogins: 0,
  duplicates: 0,
});
