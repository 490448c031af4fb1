/**
 * Child processes for the bench: started with their output in a log file, awaited on a line they
 * print (bounded), stopped by pid. Memory is read from /proc/<pid>/status (Linux).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, until } from './stats.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LOG_DIR = path.join(ROOT, 'test-output', 'bench-logs');

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** lines printed so far (stdout + stderr), last 200 */
  lines: string[];
  /** Resolves on a line matching `pattern` (already printed, unless `onlyNew`). */
  waitForLine(pattern: RegExp, timeoutMs: number, onlyNew?: boolean): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

/**
 * `quiet`: output goes straight to the log file (no pipe through this process, which hosts the
 * load-sensitive parts of the bench); waitForLine then never matches, so poll over HTTP instead.
 */
export function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { stdin?: boolean; quiet?: boolean } = {},
): Child {
  mkdirSync(LOG_DIR, { recursive: true });
  const logPath = path.join(LOG_DIR, `${name}.log`);
  if (options.quiet) {
    const fd = openSync(logPath, 'w');
    const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    return {
      proc,
      pid: proc.pid!,
      lines: [],
      waitForLine: () => Promise.reject(new Error(`${name} runs quiet; see ${logPath}`)),
      stop: () => stopProcess(proc),
    };
  }
  const log = createWriteStream(logPath, { flags: 'w' });
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let partial = '';
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      for (const l of listeners) l(line);
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  proc.once('exit', () => log.end());
  return {
    proc,
    pid: proc.pid!,
    lines,
    waitForLine(pattern, timeoutMs, onlyNew = false) {
      const seen = onlyNew ? undefined : lines.map((l) => l.match(pattern)).find(Boolean);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => done(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms; last: ${lines.slice(-5).join(' | ')}`)),
          timeoutMs,
        );
        const onExit = (code: number | null) =>
          done(new Error(`${name} exited (${code}) before printing ${pattern}; last: ${lines.slice(-5).join(' | ')}`));
        const listener = (line: string) => {
          const m = line.match(pattern);
          if (m) done(undefined, m);
        };
        function done(error?: Error, m?: RegExpMatchArray) {
          clearTimeout(timer);
          listeners.delete(listener);
          proc.off('exit', onExit);
          if (error) reject(error);
          else resolve(m!);
        }
        listeners.add(listener);
        proc.once('exit', onExit);
      });
    },
    stop: () => stopProcess(proc),
  };
}

export function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // A CPU profile is written at exit, and a busy process's takes a while.
    const hard = setTimeout(() => proc.kill('SIGKILL'), process.env.BENCH_PROFILE ? 60_000 : 5_000);
    proc.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

export interface Memory {
  rssMiB: number;
  peakMiB: number;
}

/** VmRSS and VmHWM (peak RSS since start or the last resetPeak) of a process, in MiB. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs); false when not allowed. */
export function resetPeak(pid: number): boolean {
  const file = `/proc/${pid}/clear_refs`;
  if (!existsSync(file)) return false;
  try {
    writeFileSync(file, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system) a process has used so far, in seconds (from /proc/<pid>/stat). */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}

/** Direct children of this process whose command line contains `needle` (e.g. Azurite's port). */
export function childPidsMatching(needle: string): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let children: string;
    try {
      children = readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) out.push(pid);
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/**
 * A full GC in a process started with bench/gc-on-signal.mjs: SIGUSR2, then what it wrote to
 * `report` (process.memoryUsage() and its heap spaces), read a second later so RSS has settled.
 */
export async function gcBySignal<T>(pid: number, report: string): Promise<T> {
  rmSync(report, { force: true });
  process.kill(pid, 'SIGUSR2');
  // a heap snapshot of a few hundred MiB takes a while to write
  await until(() => existsSync(report), 60_000, `the memory report of pid ${pid}`, 50);
  await sleep(1_000);
  return JSON.parse(readFileSync(report, 'utf8')) as T;
}
