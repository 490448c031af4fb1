/**
 * The whole service for the bench, every part in its own process as in production: Azurite, the
 * sidecar (node dist/sidecar/sidecar.js, the bundle that ships, real Baileys) and the function local host
 * (node dist/functions/local-host.js), with the loopback WhatsApp peer in this process playing
 * WhatsApp's server and the phone. Pairing goes through the admin API like an operator would.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { azuriteConnectionString } from '../shared/config.js';
import { createApiKeyStore } from '../shared/api-keys.js';
import { createTableStore } from '../shared/table-store.js';
import { startAzurite, type AzuriteHandle } from '../test/support/azurite.js';
import { freePort } from '../test/support/free-port.js';
import { startWhatsAppPeer, type WhatsAppPeer } from '../test/whatsapp-peer/index.js';
import { ROOT, childPidsMatching, cpuSecondsOf, gcBySignal, startChild, type Child } from './processes.js';
import { sleep, until } from './stats.js';

export interface BenchStack {
  azurite: AzuriteHandle;
  peer: WhatsAppPeer;
  sidecar: Child;
  functions: Child;
  sidecarUrl: string;
  notifyUrl: string;
  apiKey: string;
  attachmentRoot: string;
  /**
   * Asks the sidecar for a full garbage collection (bench/gc-on-signal.mjs), waits a moment, and
   * returns what the sidecar's V8 reported right after it (process.memoryUsage(), bytes).
   */
  gcSidecar(): Promise<SidecarMemoryUsage>;
  /** CPU seconds used so far by each process of the stack (this one hosts the peer). */
  cpu(): Record<'sidecar' | 'functions' | 'azurite' | 'peer', number>;
  admin(method: string, route: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  waitForState(state: string, timeoutMs?: number): Promise<void>;
  notify(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>;
  /**
   * `n` notify requests one after another, each with `message: <tag>-<i>`, timed by a client in a
   * process of its own (bench/sequential-client.mjs): this process hosts the peer, whose work after
   * each ack would otherwise delay reading the answer. Milliseconds per request, in order.
   */
  sequentialNotify(body: Record<string, unknown>, tag: string, n: number): Promise<{ text: string; ms: number }[]>;
  /** With `standby: true`: starts the second sidecar (same storage and secrets, its own id and port). */
  startStandby(): Promise<void>;
  dispose(): Promise<void>;
}

/** process.memoryUsage() of the sidecar right after a forced GC, in bytes. */
export interface SidecarMemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Committed bytes per V8 heap space (new_space, old_space, code_space, large_object_space…). */
  spaces: Record<string, number>;
  /** Bytes in use per V8 heap space (the rest of `spaces` is committed and free). */
  spacesUsed: Record<string, number>;
}

/** Extra node flags for the two service processes (e.g. --cpu-prof when BENCH_PROFILE is set). */
function nodeFlags(name: string): string[] {
  if (!process.env.BENCH_PROFILE) return [];
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${path.resolve('test-output', 'bench-profiles')}`,
    `--cpu-prof-name=${name}.${Date.now()}.cpuprofile`,
  ];
}

/** `storageVia`: put something (e.g. a request-counting proxy) between the services and Azurite; returns its port. */
export async function startBenchStack(
  name: string,
  options: {
    env?: NodeJS.ProcessEnv;
    storageVia?: (azuritePort: number) => Promise<number>;
    standby?: boolean;
    /** Where the sidecar writes a heap snapshot after each forced GC (bench/memory-soak.ts). */
    heapSnapshotDir?: string;
  } = {},
): Promise<BenchStack> {
  const azurite = await startAzurite();
  const storagePort = options.storageVia ? await options.storageVia(azurite.port) : azurite.port;
  const peer = await startWhatsAppPeer();
  const sidecarPort = await freePort();
  const standbyPort = options.standby ? await freePort() : undefined;
  const functionsPort = await freePort();
  const adminPassword = 'bench-admin-password-0123456789';
  const attachmentRoot = mkdtempSync(path.join(os.tmpdir(), 'wa-notify-bench-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    WHATSAPP_TABLES_CONNECTION: azuriteConnectionString(storagePort),
    WHATSAPP_SIDECAR_PORT: String(sidecarPort),
    // With a standby the function gets both, as an operator would configure it (contract v1.1).
    WHATSAPP_SIDECAR_URL: [sidecarPort, standbyPort]
      .filter((p) => p !== undefined)
      .map((p) => `ws://127.0.0.1:${p}/ws`)
      .join(','),
    WHATSAPP_SIDECAR_ID: `${name}-a`,
    WHATSAPP_SIDECAR_TOKEN: 'bench-sidecar-token-abcdefghijklmnop',
    WHATSAPP_API_KEY_PEPPER: 'bench-pepper-abcdefghijklmnop',
    WHATSAPP_SESSION_SECRET: 'bench-session-secret-abcdefghijklmnop',
    WHATSAPP_ADMIN_PASSWORD: adminPassword,
    WHATSAPP_ATTACHMENT_ROOTS: attachmentRoot,
    // the bench measures the service, not the safety brakes: pacing and send budget off, per-key
    // limit out of reach
    WHATSAPP_SEND_INTERVAL_MS: '0',
    WHATSAPP_RATE_LIMIT: '100000000 per minute',
    WHATSAPP_SEND_BUDGET: 'off',
    WHATSAPP_WAIT_TIMEOUT_MS: '60000',
    FUNCTIONS_PORT: String(functionsPort),
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const tables = createTableStore(env.WHATSAPP_TABLES_CONNECTION!);
  const { key: apiKey } = await createApiKeyStore(tables, env.WHATSAPP_API_KEY_PEPPER!).create('bench');

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'wa-notify-bench-scratch-'));
  const memoryReport = path.join(scratch, 'sidecar-memory.json');
  const sidecarEnv = {
    ...env,
    ...peer.childEnv(),
    WHATSAPP_WS_URL: peer.url,
    BENCH_MEMORY_REPORT: memoryReport,
    ...(options.heapSnapshotDir ? { BENCH_HEAP_SNAPSHOT_DIR: options.heapSnapshotDir } : {}),
  };
  const gcFlags = ['--expose-gc', '--import', './bench/gc-on-signal.mjs'];
  const sidecar = startChild(`${name}.sidecar`, [...nodeFlags('sidecar'), ...gcFlags, 'dist/sidecar/sidecar.js'], sidecarEnv, {
    quiet: true,
  });
  const functions = startChild(`${name}.functions`, [...nodeFlags('functions'), 'dist/functions/local-host.js'], env, { quiet: true });
  const sidecarUrl = `http://127.0.0.1:${sidecarPort}`;
  const notifyUrl = `http://127.0.0.1:${functionsPort}/api/v1/whatsapp/notify`;
  const reachable = (url: string, init?: RequestInit) => async () => {
    if (sidecar.proc.exitCode !== null || functions.proc.exitCode !== null)
      throw new Error(`${name}: a service process exited; see test-output/bench-logs`);
    try {
      await fetch(url, init);
      return true;
    } catch {
      return false;
    }
  };
  await until(reachable(`${sidecarUrl}/healthz`), 20_000, 'the sidecar', 50);
  await until(reachable(notifyUrl, { method: 'POST', body: '{}' }), 20_000, 'the function host', 50);

  const admin: BenchStack['admin'] = async (method, route, body) => {
    const res = await fetch(`${sidecarUrl}/whatsapp/api/${route}`, {
      method,
      headers: { Authorization: `Bearer ${adminPassword}`, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const waitForState = async (state: string, timeoutMs = 20_000) => {
    await until(async () => (await admin('GET', 'status')).body.state === state, timeoutMs, `sidecar state ${state}`, 25);
  };
  const notify: BenchStack['notify'] = async (body) => {
    const res = await fetch(notifyUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apikey: apiKey, ...body }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const sequentialNotify: BenchStack['sequentialNotify'] = (body, tag, n) =>
    new Promise((resolve, reject) => {
      const template = JSON.stringify({ apikey: apiKey, ...body });
      execFile(
        process.execPath,
        [path.join(ROOT, 'bench', 'sequential-client.mjs'), notifyUrl, template, tag, String(n)],
        { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 + n * 1_000 },
        (error, stdout) => {
          if (error) return reject(error);
          const { samples } = JSON.parse(stdout) as { samples: { text: string; ms: number; status: number; body?: string }[] };
          const refused = samples.find((r) => r.status !== 200);
          if (refused) return reject(new Error(`notify answered ${refused.status}: ${refused.body}`));
          resolve(samples.map(({ text, ms }) => ({ text, ms })));
        },
      );
    });

  // pair: admin API → QR → the peer's scripted phone scans it → 515 restart → open
  const started = await admin('POST', 'pair', {});
  if (started.status !== 200) throw new Error(`pair failed: ${JSON.stringify(started.body)}`);
  const qr = await until(async () => (await admin('GET', 'status')).body.qr as string | undefined, 20_000, 'a QR', 25);
  await peer.pairWithQr(String(qr));
  await waitForState('open');
  await sleep(500); // let the post-login burst (pre-key upload, IQs) settle
  let standby: Child | undefined;

  const azuritePid = childPidsMatching(`${azurite.port}`)[0];
  const cpu = () => {
    const own = process.cpuUsage();
    return {
      sidecar: cpuSecondsOf(sidecar.pid),
      functions: cpuSecondsOf(functions.pid),
      azurite: azuritePid ? cpuSecondsOf(azuritePid) : NaN,
      peer: (own.user + own.system) / 1e6,
    };
  };

  return {
    azurite,
    peer,
    cpu,
    gcSidecar: () => gcBySignal<SidecarMemoryUsage>(sidecar.pid, memoryReport),
    sidecar,
    functions,
    sidecarUrl,
    notifyUrl,
    apiKey,
    attachmentRoot,
    admin,
    waitForState,
    notify,
    sequentialNotify,
    async startStandby() {
      if (standbyPort === undefined) throw new Error(`${name}: started without standby: true`);
      standby = startChild(
        `${name}.standby`,
        ['dist/sidecar/sidecar.js'],
        { ...sidecarEnv, WHATSAPP_SIDECAR_PORT: String(standbyPort), WHATSAPP_SIDECAR_ID: `${name}-b` },
        { quiet: true },
      );
      await until(reachable(`http://127.0.0.1:${standbyPort}/healthz`), 20_000, 'the standby sidecar', 50);
    },
    async dispose() {
      await Promise.all([functions.stop(), sidecar.stop(), standby?.stop()]);
      await peer.close();
      await azurite.dispose();
      rmSync(attachmentRoot, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
