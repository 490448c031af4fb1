/**
 * Drives bench/bare-baileys-client.mjs (Baileys alone, its own process) against its own loopback
 * peer: the floor for the latency, drain and memory benches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWhatsAppPeer, type WhatsAppPeer } from '../test/whatsapp-peer/index.js';
import { gcBySignal, memoryOf, startChild, type Child } from './processes.js';

export interface BareBaileys {
  peer: WhatsAppPeer;
  child: Child;
  /** n sequential sends, each awaited until the server ack; per-send times measured in the client */
  sequence(n: number, target: string, tag: string, timeoutMs: number): Promise<{ samples: { id: string; ms: number }[]; totalMs: number }>;
  /** RSS (MiB) a second after a full GC, taken as the sidecar's is (bench/gc-on-signal.mjs). */
  rssAfterGcMiB(): Promise<number>;
  dispose(): Promise<void>;
}

export async function startBareBaileys(): Promise<BareBaileys> {
  const peer = await startWhatsAppPeer();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'wa-notify-bare-'));
  const memoryReport = path.join(scratch, 'memory.json');
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...peer.childEnv(), PEER_URL: peer.url, BENCH_MEMORY_REPORT: memoryReport };
  // the same GC hook as the bench's sidecar, so both idle figures are read alike
  const child = startChild('bare-baileys', ['--expose-gc', '--import', './bench/gc-on-signal.mjs', 'bench/bare-baileys-client.mjs'], env, {
    stdin: true,
  });
  const qr = await child.waitForLine(/^QR (.+)$/, 15_000);
  await peer.pairWithQr(qr[1]!);
  await child.waitForLine(/^OPEN /, 15_000);
  return {
    peer,
    child,
    async sequence(n, target, tag, timeoutMs) {
      const result = child.waitForLine(/^RESULT (.+)$/, timeoutMs, true);
      child.proc.stdin!.write(`SEQ ${n} ${target} ${tag}\n`);
      const m = await result;
      const parsed = JSON.parse(m[1]!) as { samples: { id: string; ms: number }[]; totalMs: number; error?: string };
      if (parsed.error) throw new Error(`bare Baileys client: ${parsed.error}`);
      return parsed;
    },
    async rssAfterGcMiB() {
      await gcBySignal(child.pid, memoryReport);
      return memoryOf(child.pid).rssMiB;
    },
    async dispose() {
      rmSync(scratch, { recursive: true, force: true });
      child.proc.stdin!.end();
      await child.stop();
      await peer.close();
    },
  };
}
