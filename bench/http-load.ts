/**
 * HTTP load with autocannon, run as its own process (so the load generator never shares an event
 * loop with anything measured) and read back from its --json output.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './processes.js';

export interface LoadResult {
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
  '2xx'?: number;
}

/** `amount`: stop after that many requests (then `seconds` is only the upper bound). */
export async function runLoad(options: {
  url: string;
  body: string;
  connections: number;
  seconds: number;
  amount?: number;
}): Promise<LoadResult> {
  const bin = path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
  const args = [
    bin,
    '-n',
    '-j',
    '-c',
    String(options.connections),
    ...(options.amount ? ['-a', String(options.amount)] : ['-d', String(options.seconds)]),
    '-m',
    'POST',
    '-H',
    'content-type=application/json',
    '-b',
    options.body,
    options.url,
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${err.slice(-500)}`);
  const j = JSON.parse(out) as AutocannonJson;
  const statusCodes: Record<string, number> = {};
  for (const [status, s] of Object.entries(j.statusCodeStats ?? {})) statusCodes[status] = s.count;
  return {
    connections: options.connections,
    seconds: j.duration,
    requests: j.requests.total,
    requestsPerSecond: j.requests.total / j.duration,
    latencyP50Ms: j.latency.p50,
    latencyP99Ms: j.latency.p99,
    latencyMaxMs: j.latency.max,
    non2xx: j.non2xx,
    errors: j.errors,
    timeouts: j.timeouts,
    statusCodes,
  };
}
