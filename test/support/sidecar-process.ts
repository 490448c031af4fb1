/**
 * The real sidecar as a child process (`node dist/sidecar/sidecar.js`, the bundle that ships), so tests can kill -9 it and
 * start it again, and so Baileys runs exactly as in production. Output goes to a log file that
 * log-hygiene tests read back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { DIST, PROJECT_ROOT } from './paths.js';

export interface SidecarProcess {
  url: string;
  logFile: string;
  start(): Promise<void>;
  stop(options?: { crash?: boolean }): Promise<void>;
  running(): boolean;
}

export const TEST_OUTPUT = path.join(PROJECT_ROOT, 'test-output');

export function sidecarProcess(options: { env: NodeJS.ProcessEnv; port: number; name: string }): SidecarProcess {
  const logDir = path.join(TEST_OUTPUT, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${options.name}.sidecar.log`);
  const url = `http://127.0.0.1:${options.port}`;
  let child: ChildProcess | undefined;

  const waitReady = async (proc: ChildProcess) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`sidecar exited with ${proc.exitCode}; see ${logFile}`);
      try {
        const res = await fetch(`${url}/healthz`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sidecar did not become ready; see ${logFile}`);
  };

  return {
    url,
    logFile,
    async start() {
      const out = createWriteStream(logFile, { flags: 'a' });
      const proc = spawn(process.execPath, [path.join(DIST, 'sidecar', 'sidecar.js')], {
        env: { ...options.env, WHATSAPP_SIDECAR_PORT: String(options.port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proc.stdout!.pipe(out, { end: false });
      proc.stderr!.pipe(out, { end: false });
      child = proc;
      await waitReady(proc);
    },
    async stop({ crash = false } = {}) {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill(crash ? 'SIGKILL' : 'SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 5_000).unref();
      });
    },
    running: () => child !== undefined && child.exitCode === null,
  };
}
