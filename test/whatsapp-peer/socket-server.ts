/**
 * The WebSocket server on 127.0.0.1 (random port): registers each connection, turns incoming bytes
 * into frames for the connection's stage machine, and drops a connection whose frames do not parse.
 */
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { closeConn, createConn, type Conn } from './connection.js';
import type { Connections } from './connections.js';
import type { Changed } from './events.js';

export interface SocketServerDeps {
  connections: Connections;
  events: EventEmitter;
  changed: Changed;
  log: (line: string) => void;
  /** handles one complete frame; throwing drops the connection */
  onFrame: (conn: Conn, frame: Buffer) => void;
}

export interface SocketServer {
  readonly port: number;
  /** resets every connection and stops listening */
  close(): Promise<void>;
}

export async function startSocketServer({ connections, events, changed, log, onFrame }: SocketServerDeps): Promise<SocketServer> {
  let connSeq = 0;

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', () => resolve());
    wss.once('error', reject);
  });

  wss.on('connection', (ws) => {
    const conn = createConn(++connSeq, ws);
    connections.opened(conn);
    changed('connection');
    events.emit('connection', conn.id);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (conn.silenced || conn.stage === 'closed') return;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      try {
        for (const f of conn.reader.push(buf)) onFrame(conn, f);
      } catch (err) {
        log(`conn ${conn.id}: protocol error ${(err as Error).message}`);
        closeConn(conn, true);
      }
    });
    ws.on('close', () => {
      connections.closed(conn);
      changed('close');
      events.emit('closed', conn.id);
    });
    ws.on('error', (err) => log(`conn ${conn.id}: ws error ${err.message}`));
  });

  return {
    port: (wss.address() as AddressInfo).port,
    async close() {
      for (const c of connections.all()) c.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
