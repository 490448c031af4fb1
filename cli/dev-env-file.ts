/**
 * `.data/dev.env`, the development settings `npm start` writes (storage port, API key pepper,
 * ports) and `apikey create --save` adds the key to. The CLI reads it under the process
 * environment, so the README's commands work in a fresh shell on the machine running `npm start`;
 * a variable set in the environment always wins. WA_NOTIFY_ENV_FILE names another file, or ''
 * for none (tests, and hosts that want the environment only).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../shared/config.js';

export const DEFAULT_DEV_ENV_FILE = path.join(PROJECT_ROOT, '.data', 'dev.env');

export function devEnvFile(env: NodeJS.ProcessEnv): string | undefined {
  const named = env.WA_NOTIFY_ENV_FILE;
  if (named === undefined) return DEFAULT_DEV_ENV_FILE;
  return named.trim() === '' ? undefined : path.resolve(named);
}

const LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/** KEY='value' lines as scripts/start.mjs writes them (shell single quotes, `'\''` for a quote). */
export function parseDevEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = LINE.exec(raw.trim());
    if (!m) continue;
    const value = m[2]!;
    out[m[1]!] = value.startsWith("'") && value.endsWith("'") && value.length >= 2 ? value.slice(1, -1).replace(/'\\''/g, "'") : value;
  }
  return out;
}

/** The environment with the dev file's variables underneath it. */
export function withDevEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const file = devEnvFile(env);
  if (file === undefined || !existsSync(file)) return env;
  let fromFile: Record<string, string>;
  try {
    fromFile = parseDevEnv(readFileSync(file, 'utf8'));
  } catch {
    return env; // unreadable: the environment alone, as before the file existed
  }
  return { ...fromFile, ...env };
}

const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/** Sets one variable in the file (replacing an earlier line for it), keeping it private (0600). */
export function saveToDevEnv(file: string, name: string, value: string): void {
  const lines = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith(`${name}=`))
    : [];
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${[...lines, `${name}=${quote(value)}`].join('\n')}\n`, { mode: 0o600 });
  if (process.platform !== 'win32') chmodSync(file, 0o600);
}
