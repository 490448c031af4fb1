/**
 * A loopback TCP proxy in front of one port (Azurite), so a test can partition one process from
 * storage while others keep it. `cut()` is a black hole, like a network partition: connections stay
 * open but nothing passes in either direction, and new ones are accepted and then hear nothing — so
 * a client learns of it only through its own timeouts. `restore()` resets the held connections
 * (as a partition that outlived TCP's patience would) and forwards new ones again.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  let cut = false;

  const hold = (pair: { client: net.Socket; upstream?: net.Socket }) => {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    // Read and drop: paused sockets would also stop the other side's writes, but dropped bytes are
    // what a partition does.
    pair.client.removeAllListeners('data');
    pair.upstream?.removeAllListeners('data');
    pair.client.on('data', () => undefined);
    pair.upstream?.on('data', () => undefined);
  };

  const server = net.createServer((client) => {
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', drop);
    client.on('close', drop);
    if (cut) {
      hold(pair);
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    cut() {
      cut = true;
      for (const pair of pairs) hold(pair);
    },
    restore() {
      cut = false;
      for (const pair of [...pairs]) {
        pair.client.resetAndDestroy();
        pair.upstream?.destroy();
        pairs.delete(pair);
      }
    },
    async close() {
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
