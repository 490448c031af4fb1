/**
 * The registry of live connections and the counters that follow them (`stats.currentConnections`,
 * `currentLogins`, `maxLogins`: chaos and tests count sockets and sessions there). Every change of
 * a connection's stage to 'closed' or of its role to 'device' goes through here, so the counters
 * cannot drift from the set.
 */
import type { Conn } from './connection.js';
import type { LinkedDevice } from './devices.js';
import type { PeerStats } from './stats.js';

export class Connections {
  private readonly live = new Set<Conn>();

  constructor(private readonly stats: PeerStats) {}

  opened(conn: Conn): void {
    this.live.add(conn);
    this.stats.connectionsOpened++;
    this.stats.currentConnections++;
  }

  closed(conn: Conn): void {
    const wasLogin = conn.role.kind === 'device' && conn.stage === 'open';
    conn.stage = 'closed';
    this.live.delete(conn);
    this.stats.currentConnections--;
    if (wasLogin) this.stats.currentLogins--;
  }

  loggedIn(conn: Conn, device: LinkedDevice): void {
    conn.role = { kind: 'device', device, offlineSent: false };
    this.stats.logins++;
    this.stats.currentLogins++;
    this.stats.maxLogins = Math.max(this.stats.maxLogins, this.stats.currentLogins);
  }

  /** every connection not yet closed (handshaking ones too), oldest first */
  all(): Conn[] {
    return [...this.live];
  }

  /** connections past the handshake, oldest first */
  open(): Conn[] {
    return this.all().filter((c) => c.stage === 'open');
  }
}
