// The TCP proxy of tcp-proxy.ts, in its own process so the test process's load (the WhatsApp peer's
// crypto runs there) does not slow the storage traffic it carries. Control over IPC:
// 'cut' | 'restore' | 'close'; it answers { port } once listening and { ok } after each command.
import net from 'node:net';

const targetPort = Number(process.argv[2]);
const pairs = new Set();
let cut = false;

const hold = (pair) => {
  pair.client.unpipe();
  pair.upstream?.unpipe();
  // Read and drop, as a partition does: nothing passes, nobody is told.
  pair.client.removeAllListeners('data');
  pair.upstream?.removeAllListeners('data');
  pair.client.on('data', () => undefined);
  pair.upstream?.on('data', () => undefined);
};

const server = net.createServer((client) => {
  const pair = { client, upstream: undefined };
  pairs.add(pair);
  const drop = () => {
    pairs.delete(pair);
    client.destroy();
    pair.upstream?.destroy();
  };
  client.on('error', drop);
  client.on('close', drop);
  if (cut) return hold(pair);
  const upstream = net.connect(targetPort, '127.0.0.1');
  pair.upstream = upstream;
  upstream.on('error', drop);
  upstream.on('close', drop);
  client.pipe(upstream);
  upstream.pipe(client);
});

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));

process.on('message', (command) => {
  if (command === 'cut') {
    cut = true;
    for (const pair of pairs) hold(pair);
  } else if (command === 'restore') {
    cut = false;
    for (const pair of [...pairs]) {
      pair.client.resetAndDestroy();
      pair.upstream?.destroy();
      pairs.delete(pair);
    }
  } else if (command === 'close') {
    for (const pair of pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1_000).unref();
  }
  process.send({ ok: command });
});
process.on('disconnect', () => process.exit(0));
