/**
 * A real Azurite table service for a test file: loopback only, a free port, telemetry off, in memory
 * by default (or in a temp folder, for tests that restart it and expect data to survive).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { azuriteConnectionString } from '../../shared/config.js';
import { freePort } from './free-port.js';
import { PROJECT_ROOT } from './paths.js';

export interface AzuriteHandle {
  port: number;
  connectionString: string;
  /** Stops the process (SIGKILL when `crash`), keeping the on-disk data when not in memory. */
  stop(options?: { crash?: boolean }): Promise<void>;
  /** Starts it again on the same port (and the same folder). */
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startAzurite(options: { persistent?: boolean } = {}): Promise<AzuriteHandle> {
  const port = await freePort();
  const location = options.persistent ? mkdtempSync(path.join(os.tmpdir(), 'wa-notify-azurite-')) : undefined;
  const bin = path.join(PROJECT_ROOT, 'node_modules', 'azurite', 'dist', 'src', 'table', 'main.js');
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const args = [bin, '--tableHost', '127.0.0.1', '--tablePort', String(port), '--disableTelemetry', '--silent', '--skipApiVersionCheck'];
    if (location) args.push('--location', location);
    else args.push('--inMemoryPersistence');
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within 15 s: ${output}`)), 15_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('successfully started')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited with ${code}: ${output}`));
      });
    });
  };

  const stop = async ({ crash = false } = {}): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      // SIGINT is Azurite's clean stop: it saves its on-disk data then (SIGTERM skips the save).
      proc.kill(crash ? 'SIGKILL' : 'SIGINT');
    });
  };

  await start();
  return {
    port,
    connectionString: azuriteConnectionString(port),
    stop,
    start,
    async dispose() {
      await stop({ crash: true });
      if (location) rmSync(location, { recursive: true, force: true });
    },
  };
}
