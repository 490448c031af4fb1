/**
 * One client connection and its explicit state. `stage` is the transport: the Noise handshake
 * ('hello' → 'finish'), then encrypted stanzas ('open'), then 'closed'. `role` is what the client
 * said it is in its ClientPayload: a new companion registering, or a linked device that logged in.
 * The role outlives the socket, so a receipt for a message can still find the sender's device.
 */
import type { WebSocket } from 'ws';
import { encodeBinaryNode, type BinaryNode } from '@whiskeysockets/baileys';
import type { LinkedDevice } from './devices.js';
import type { NextTag } from './nodes.js';
import { FrameReader, frame, ServerNoise } from './noise.js';
import type { PeerTimers } from './timers.js';

export type ConnStage = 'hello' | 'finish' | 'open' | 'closed';

export interface PendingRegistration {
  identityKey: Buffer;
  registrationId: number;
}

export type ConnRole =
  /** no ClientPayload yet, or a login the peer refused */
  | { kind: 'unknown' }
  /** no `creds.me`: the client shows a QR for one of `refs` (or asks for a pairing code) */
  | { kind: 'registering'; registration: PendingRegistration; refs: string[] }
  /** a linked device; `offlineSent` once it got `<ib><offline/></ib>` */
  | { kind: 'device'; device: LinkedDevice; offlineSent: boolean };

/** a pairing-code exchange the client started with `companion_hello` */
export interface CodeRequest {
  ref: Buffer;
  phoneJid: string;
  wrappedCompanionEphemeral: Buffer;
  at: number;
}

export interface Conn {
  id: number;
  ws: WebSocket;
  noise: ServerNoise;
  reader: FrameReader;
  stage: ConnStage;
  role: ConnRole;
  /** stanzas are handled one after the other, in arrival order */
  queue: Promise<void>;
  /** the client's Noise static key, known from the handshake's clientFinish */
  clientStatic?: Buffer;
  codeRequest?: CodeRequest;
  /** the client's `companion_finish` handler, installed by `pairWithCode` while it waits */
  onCompanionFinish?: (iq: BinaryNode) => void;
  /** failure injection: the peer stops reading and answering (`disconnect('silence')`) */
  silenced: boolean;
  /** IQs the peer sent, waiting for the client's result, by id */
  serverIqs: Map<string, (node: BinaryNode) => void>;
}

export const createConn = (id: number, ws: WebSocket): Conn => ({
  id,
  ws,
  noise: new ServerNoise(),
  reader: new FrameReader(),
  stage: 'hello',
  role: { kind: 'unknown' },
  queue: Promise.resolve(),
  silenced: false,
  serverIqs: new Map(),
});

/** the linked device logged in on this connection, if any */
export const deviceOf = (conn: Conn): LinkedDevice | undefined => (conn.role.kind === 'device' ? conn.role.device : undefined);

/** encrypts and sends a stanza; a no-op unless the handshake is done and the socket open */
export const send = (conn: Conn, node: BinaryNode): void => {
  if (conn.stage !== 'open' || conn.ws.readyState !== conn.ws.OPEN) return;
  const bytes = encodeBinaryNode(node);
  conn.ws.send(frame(conn.noise.encrypt(bytes)));
};

/** `hard` resets the TCP connection instead of a WebSocket close */
export const closeConn = (conn: Conn, hard = false): void => {
  if (conn.ws.readyState === conn.ws.CLOSED) return;
  if (hard) conn.ws.terminate();
  else conn.ws.close();
};

/** sends a `<stream:error>` or `<failure>` and closes, as WhatsApp ends a session */
export const streamError = (conn: Conn, node: BinaryNode): void => {
  send(conn, node);
  closeConn(conn);
};

/** sends an IQ the peer originates and resolves with the client's answer, bounded by `timeoutMs` */
export const serverIq = (
  conn: Conn,
  node: BinaryNode,
  timeoutMs: number,
  deps: { timers: PeerTimers; tag: NextTag },
): Promise<BinaryNode> =>
  new Promise((resolve, reject) => {
    const id = node.attrs.id ?? deps.tag();
    node.attrs.id = id;
    const cancel = deps.timers.later(timeoutMs, () => {
      conn.serverIqs.delete(id);
      reject(new Error(`client did not answer iq ${id} within ${timeoutMs}ms`));
    });
    conn.serverIqs.set(id, (reply) => {
      cancel();
      resolve(reply);
    });
    send(conn, node);
  });

/** hands a client's `result`/`error` IQ to the peer IQ waiting for it */
export const answerServerIq = (conn: Conn, iq: BinaryNode): void => {
  const id = iq.attrs.id ?? '';
  const handler = conn.serverIqs.get(id);
  conn.serverIqs.delete(id);
  handler?.(iq);
};
