/**
 * A loopback TCP proxy in front of one port (Azurite), so a test can partition one process from
 * storage while others keep it. `cut()` is a black hole, like a network partition: connections stay
 * open but nothing passes in either direction, and new ones are accepted and then hear nothing — so
 * a client learns of it only through its own timeouts. `restore()` resets the held connections
 * (as a partition that outlived TCP's patience would) and forwards new ones again.
 * It runs in a child process (tcp-proxy-child.mjs): the test process is busy with the peer's crypto.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from './paths.js';

export interface TcpProxy {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

const CHILD = path.join(PROJECT_ROOT, 'test', 'support', 'tcp-proxy-child.mjs');

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const child: ChildProcess = fork(CHILD, [String(targetPort)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the TCP proxy did not answer')), 10_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as Record<string, unknown>);
      });
    });
  const port = Number((await next()).port);
  const command = async (c: 'cut' | 'restore') => {
    const answer = next();
    child.send(c);
    await answer;
  };
  return {
    port,
    cut: () => command('cut'),
    restore: () => command('restore'),
    async close() {
      if (child.exitCode !== null || !child.connected) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send('close');
      await exited;
    },
  };
}
