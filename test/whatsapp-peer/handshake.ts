/**
 * The connection's stage machine, one frame at a time: the server side of the Noise XX handshake
 * ('hello': client ephemeral → server hello with static key and certificate chain; 'finish':
 * client static key and ClientPayload), then 'open', where every frame is an encrypted stanza
 * queued for the stanza router in arrival order.
 */
import { Curve, decodeBinaryNode, proto, type BinaryNode } from '@whiskeysockets/baileys';
import type { Conn } from './connection.js';
import { frame } from './noise.js';
import type { PeerStats } from './stats.js';
import type { ServerIdentity } from './trust.js';

export interface FrameHandlerDeps {
  identity: ServerIdentity;
  stats: PeerStats;
  log: (line: string) => void;
  /** the handshake is done: register or log in the client */
  onClientPayload: (conn: Conn, payload: proto.ClientPayload) => void;
  onNode: (conn: Conn, node: BinaryNode) => Promise<void>;
}

export function createFrameHandler({ identity, stats, log, onClientPayload, onNode }: FrameHandlerDeps): (conn: Conn, f: Buffer) => void {
  const { serverStatic, certChain } = identity;

  const onHello = (conn: Conn, f: Buffer): void => {
    const hello = proto.HandshakeMessage.decode(f).clientHello;
    const clientEph = hello?.ephemeral ? Buffer.from(hello.ephemeral) : undefined;
    if (!clientEph || clientEph.length !== 32) throw new Error('missing client ephemeral');
    const n = conn.noise;
    n.authenticate(clientEph);
    n.authenticate(n.ephemeral.public);
    n.mixIntoKey(Curve.sharedKey(n.ephemeral.private, clientEph));
    const staticCt = n.encrypt(serverStatic.public);
    n.mixIntoKey(Curve.sharedKey(serverStatic.private, clientEph));
    const certCt = n.encrypt(certChain);
    const out = proto.HandshakeMessage.encode({
      serverHello: { ephemeral: n.ephemeral.public, static: staticCt, payload: certCt },
    }).finish();
    conn.ws.send(frame(out));
    conn.stage = 'finish';
  };

  const onFinish = (conn: Conn, f: Buffer): void => {
    const finish = proto.HandshakeMessage.decode(f).clientFinish;
    if (!finish?.static || !finish.payload) throw new Error('missing clientFinish');
    const n = conn.noise;
    const clientStatic = n.decrypt(finish.static);
    n.mixIntoKey(Curve.sharedKey(n.ephemeral.private, clientStatic));
    const payload = proto.ClientPayload.decode(n.decrypt(finish.payload));
    n.finish();
    conn.clientStatic = clientStatic;
    conn.stage = 'open';
    stats.handshakes++;
    onClientPayload(conn, payload);
  };

  const onStanzaFrame = (conn: Conn, f: Buffer): void => {
    const plain = conn.noise.decrypt(f);
    conn.queue = conn.queue
      .then(async () => {
        const node = await decodeBinaryNode(plain);
        if (conn.silenced) return;
        await onNode(conn, node);
      })
      .catch((err) => log(`conn ${conn.id}: error handling node: ${(err as Error).stack}`));
  };

  return (conn, f) => {
    switch (conn.stage) {
      case 'hello':
        return onHello(conn, f);
      case 'finish':
        return onFinish(conn, f);
      case 'open':
        return onStanzaFrame(conn, f);
      case 'closed':
        return;
    }
  };
}
