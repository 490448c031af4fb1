#!/usr/bin/env node
/**
 * `npm start`: the whole service on one machine from a fresh clone. Installs and builds when needed,
 * starts Azurite (unless WHATSAPP_TABLES_CONNECTION points at real storage), the sidecar and the
 * function host, prefixes their output, and stops them all together.
 *
 * Development secrets are generated once into .data/dev-secrets.json (mode 0600) so restarts keep
 * them: API keys made earlier still verify and the stored WhatsApp session stays decryptable. The
 * CLI stays environment-only; .data/dev.env holds the variables it needs, for the operator to load.
 *
 * `npm start -- --standby` (or WA_NOTIFY_STANDBY=1) starts a second sidecar beside the first, on
 * WHATSAPP_STANDBY_PORT (default 7074), with its own WHATSAPP_SIDECAR_ID and the same storage and
 * secrets; the function host gets both URLs. Either sidecar may die (kill -9 it) without stopping the
 * rest, so a developer can watch the other take the session over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = path.join(ROOT, '.data');
const SECRETS_FILE = path.join(DATA, 'dev-secrets.json');
const ENV_FILE = path.join(DATA, 'dev.env');
const rel = (p) => path.relative(ROOT, p) || '.';

const SECRET_NAMES = ['WHATSAPP_SIDECAR_TOKEN', 'WHATSAPP_API_KEY_PEPPER', 'WHATSAPP_SESSION_SECRET', 'WHATSAPP_ADMIN_PASSWORD'];
const READY_TIMEOUT_MS = 30_000;
const AZURITE_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const IS_WINDOWS = process.platform === 'win32';
const STANDBY = process.argv.slice(2).includes('--standby') || /^(1|true|yes|on)$/i.test(process.env.WA_NOTIFY_STANDBY ?? '');

class StartError extends Error {}

const say = (line) => process.stdout.write(line === '' ? '\n' : `[start] ${line}\n`);
const warn = (line) => process.stderr.write(`[start] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// 1. Dependencies and build

/** npm itself: the one running `npm start` when there is one, else `npm` from PATH. */
function npmCommand(args) {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.c?js$/.test(execPath)) return { command: process.execPath, args: [execPath, ...args], shell: false };
  return { command: IS_WINDOWS ? 'npm.cmd' : 'npm', args, shell: IS_WINDOWS };
}

function runNpm(args) {
  say(`npm ${args.join(' ')}`);
  const { command, args: argv, shell } = npmCommand(args);
  const result = spawnSync(command, argv, { cwd: ROOT, stdio: 'inherit', shell });
  if (result.error) throw new StartError(`could not run npm: ${result.error.message}`);
  if (result.status !== 0) throw new StartError(`npm ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
}

/**
 * `install` for a fresh clone or when the lock file changed since the last install, else nothing.
 * Not `npm ci`: the lock records platform-specific optional packages only for the platforms the
 * registry served when it was written, and `npm ci` refuses such a lock where `npm install` copes.
 */
function installNeeded() {
  const lock = path.join(ROOT, 'package-lock.json');
  const installed = path.join(ROOT, 'node_modules', '.package-lock.json');
  if (!existsSync(path.join(ROOT, 'node_modules'))) return 'install';
  if (!existsSync(installed)) return 'install';
  if (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs) return 'install';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 2. Settings: ports, development secrets, the CLI's env file

function envPort(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartError(`${name} must be a port number, not "${text}"`);
  return port;
}

/** `Values` of local.settings.json, which `func start` gives the function host. */
function localSettingsValues() {
  try {
    const values = JSON.parse(readFileSync(path.join(ROOT, 'local.settings.json'), 'utf8')).Values;
    return values && typeof values === 'object' ? values : {};
  } catch {
    return {};
  }
}

/**
 * Secrets from the environment when set; else what local.settings.json holds (so the sidecar and a
 * `func start` host agree whichever of env and local.settings.json Core Tools prefers); else from
 * .data/dev-secrets.json, generated there once.
 */
function devSecrets() {
  const local = localSettingsValues();
  let stored = {};
  if (existsSync(SECRETS_FILE)) {
    try {
      stored = JSON.parse(readFileSync(SECRETS_FILE, 'utf8'));
    } catch {
      // Regenerating would orphan every API key and the stored session, so never do it silently.
      throw new StartError(`${rel(SECRETS_FILE)} is not valid JSON; fix it, or delete it to generate new secrets`);
    }
  }
  const values = {};
  const fromEnv = new Set();
  let generated = false;
  for (const name of SECRET_NAMES) {
    const env = process.env[name];
    if (env !== undefined && env !== '') {
      values[name] = env;
      fromEnv.add(name);
    } else if (typeof local[name] === 'string' && local[name] !== '') {
      values[name] = local[name];
    } else if (typeof stored[name] === 'string' && stored[name] !== '') {
      values[name] = stored[name];
    } else {
      stored[name] = randomBytes(name === 'WHATSAPP_ADMIN_PASSWORD' ? 18 : 32).toString('base64url');
      values[name] = stored[name];
      generated = true;
    }
  }
  if (generated) {
    writeFileSync(SECRETS_FILE, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    say(`generated development secrets in ${rel(SECRETS_FILE)}`);
  }
  if (existsSync(SECRETS_FILE) && !IS_WINDOWS) chmodSync(SECRETS_FILE, 0o600);
  return { values, fromEnv };
}

/** Lines kept when the file is rewritten: what the operator saved (`apikey create --save`). */
const KEPT_ENV_NAMES = ['WA_NOTIFY_APIKEY'];

/**
 * KEY='value' lines: read by the wa-notify CLI on this machine, and readable by `set -a; . file`,
 * by `node --env-file` and by `xargs`.
 */
function writeEnvFile(vars) {
  const quote = (v) => `'${String(v).replace(/'/g, `'\\''`)}'`;
  const kept = existsSync(ENV_FILE)
    ? readFileSync(ENV_FILE, 'utf8')
        .split('\n')
        .filter((l) => KEPT_ENV_NAMES.some((name) => l.startsWith(`${name}=`)))
    : [];
  const lines = [
    '# Written by `npm start` for the wa-notify CLI, which reads it (the environment wins);',
    '# rewritten on every start, keeping WA_NOTIFY_APIKEY (`npx wa-notify apikey create <name> --save`).',
    ...Object.entries(vars).map(([k, v]) => `${k}=${quote(v)}`),
    ...kept,
  ];
  writeFileSync(ENV_FILE, `${lines.join('\n')}\n`, { mode: 0o600 });
  if (!IS_WINDOWS) chmodSync(ENV_FILE, 0o600);
}

// ---------------------------------------------------------------------------------------------
// 3. Processes

function onPath(name) {
  const exts = IS_WINDOWS ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && exts.some((ext) => existsSync(path.join(dir, name + ext)))) return true;
  }
  return false;
}

/** True when something accepts connections on 127.0.0.1:port. */
function isListening(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const children = [];
let stopping = false;

function pipeLines(stream, name, out) {
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`[${name}] ${line}\n`));
}

/**
 * Spawns a supervised child; its death before shutdown stops everything with exit 1 — except a
 * `survivable` one (a sidecar with a standby beside it) while another survivable child still runs.
 */
function startChild(name, command, args, { survivable = false, ...options } = {}) {
  // Each child in its own process group: Ctrl-C in the terminal signals the whole foreground group,
  // which used to stop Azurite at the same instant as the sidecar (so its lease release failed).
  // This script alone gets the signal and stops the children in order.
  const proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: !IS_WINDOWS, ...options });
  const child = {
    name,
    proc,
    exited: new Promise((resolve) => proc.once('exit', resolve)),
    // 'close' comes after the child's output pipes drain, so its last lines are not lost.
    closed: new Promise((resolve) => proc.once('close', resolve)),
    survivable,
  };
  children.push(child);
  pipeLines(proc.stdout, name, process.stdout);
  pipeLines(proc.stderr, name, process.stderr);
  proc.once('error', (error) => {
    if (stopping) return;
    warn(`${name} could not start: ${error.message}`);
    void shutdown(1);
  });
  proc.once('exit', (code, signal) => {
    if (stopping) return;
    const others = children.filter((c) => c !== child && c.survivable && c.proc.exitCode === null && c.proc.signalCode === null);
    if (survivable && others.length > 0) {
      warn(`${name} exited (${signal ?? `exit code ${code}`}); ${others.map((c) => c.name).join(', ')} takes the WhatsApp session over`);
      return;
    }
    warn(`${name} exited unexpectedly (${signal ?? `exit code ${code}`}); stopping the others`);
    void shutdown(1);
  });
  return child;
}

async function stopChildren(group) {
  const running = group.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null);
  for (const c of running) c.proc.kill('SIGTERM');
  const timeout = sleep(STOP_GRACE_MS).then(() => 'timeout');
  for (const c of running) {
    if ((await Promise.race([c.exited, timeout])) === 'timeout' && c.proc.exitCode === null && c.proc.signalCode === null) {
      warn(`${c.name} did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
      c.proc.kill('SIGKILL');
      await c.exited;
    }
  }
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  // In reverse order of start, each after the one before has exited: the function host, then the
  // sidecar (which releases its session lease, so Azurite must still be up), then Azurite.
  for (const child of [...children].reverse()) await stopChildren([child]);
  // A grandchild (func's worker) can hold a pipe open; do not wait on it for long.
  await Promise.race([Promise.all(children.map((c) => c.closed)), sleep(1_000)]);
  process.exit(code);
}

// SIGHUP too: the children no longer share the terminal's process group, so a closed terminal
// reaches only this script, which must stop them.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (stopping) {
      // A second Ctrl-C: no more waiting.
      for (const c of children) c.proc.kill('SIGKILL');
      process.exit(130);
    }
    say(`${signal}: stopping`);
    void shutdown(0);
  });
}
// Last resort if this script itself crashes: never leave children holding the ports.
process.on('exit', () => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
});

function startAzurite(port) {
  const bin = path.join(ROOT, 'node_modules', 'azurite', 'dist', 'src', 'table', 'main.js');
  if (!existsSync(bin)) throw new StartError(`${rel(bin)} is missing; run npm install`);
  const location = path.join(DATA, 'azurite');
  mkdirSync(location, { recursive: true });
  const args = [bin, '--tableHost', '127.0.0.1', '--tablePort', String(port), '--disableTelemetry', '--location', location, '--silent'];
  const child = startChild('azurite', process.execPath, args);
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new StartError(`Azurite did not start within ${AZURITE_TIMEOUT_MS / 1000} s`)),
      AZURITE_TIMEOUT_MS,
    );
    const onData = (chunk) => {
      seen = (seen + chunk.toString()).slice(-4096);
      if (seen.includes('successfully started')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.proc.stdout.on('data', onData);
    child.proc.stderr.on('data', onData);
    child.exited.then(() => clearTimeout(timer));
  });
}

async function waitForPort(port) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    if (await isListening(port)) return true;
    await sleep(250);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const ports = {
    FUNCTIONS_PORT: envPort('FUNCTIONS_PORT', 7071),
    WHATSAPP_SIDECAR_PORT: envPort('WHATSAPP_SIDECAR_PORT', 7072),
    AZURITE_TABLE_PORT: envPort('AZURITE_TABLE_PORT', 10002),
    ...(STANDBY ? { WHATSAPP_STANDBY_PORT: envPort('WHATSAPP_STANDBY_PORT', 7074) } : {}),
  };

  const install = installNeeded();
  if (install) runNpm([install]);
  runNpm(['run', 'build']);
  const ownStorage = Boolean(process.env.WHATSAPP_TABLES_CONNECTION);

  // Every entry point before anything starts, so a half-built tree fails fast with nothing to clean up.
  const useFunc = onPath('func');
  const functionsEntry = useFunc ? 'dist/functions/index.js' : 'dist/functions/local-host.js';
  const missing = ['dist/sidecar/sidecar.js', functionsEntry].filter((f) => !existsSync(path.join(ROOT, f)));
  if (missing.length > 0) throw new StartError(`the build did not produce ${missing.join(' and ')}; check the sources it comes from`);

  const portNames = Object.keys(ports).filter((name) => !ownStorage || name !== 'AZURITE_TABLE_PORT');
  for (const name of portNames) {
    if (await isListening(ports[name])) {
      throw new StartError(
        `port ${ports[name]} (${name}) is already in use: is another \`npm start\` running? Set ${name} to use another port`,
      );
    }
  }

  mkdirSync(DATA, { recursive: true, mode: 0o700 });
  const { values: secrets, fromEnv } = devSecrets();
  const env = { ...process.env, ...secrets };
  for (const [name, port] of Object.entries(ports)) env[name] = String(port);
  env.FUNCTIONS_WORKER_RUNTIME ??= 'node';

  const storage = ownStorage
    ? { WHATSAPP_TABLES_CONNECTION: process.env.WHATSAPP_TABLES_CONNECTION }
    : { AZURITE_TABLE_PORT: ports.AZURITE_TABLE_PORT };
  writeEnvFile({
    ...storage,
    WHATSAPP_API_KEY_PEPPER: secrets.WHATSAPP_API_KEY_PEPPER,
    FUNCTIONS_PORT: ports.FUNCTIONS_PORT,
    WHATSAPP_SIDECAR_PORT: ports.WHATSAPP_SIDECAR_PORT,
    WA_NOTIFY_URL: `http://127.0.0.1:${ports.FUNCTIONS_PORT}`,
    // The CLI checks phones as the services do (`users link`).
    ...(process.env.WHATSAPP_DEFAULT_COUNTRY ? { WHATSAPP_DEFAULT_COUNTRY: process.env.WHATSAPP_DEFAULT_COUNTRY } : {}),
  });

  if (ownStorage) say('WHATSAPP_TABLES_CONNECTION is set: using that storage, not starting Azurite');
  else {
    await startAzurite(ports.AZURITE_TABLE_PORT);
    say(`Azurite tables on 127.0.0.1:${ports.AZURITE_TABLE_PORT}, data in ${rel(path.join(DATA, 'azurite'))}`);
  }
  if (stopping) return;

  if (STANDBY) {
    // Distinct identities (the lease tells sidecars apart by them), one storage, one set of secrets.
    // A shorter lease than production's 30 s, so a failover is quick to watch.
    const id = env.WHATSAPP_SIDECAR_ID ?? os.hostname();
    env.WHATSAPP_SESSION_LEASE ??= '10s';
    env.WHATSAPP_SIDECAR_URL ??= [ports.WHATSAPP_SIDECAR_PORT, ports.WHATSAPP_STANDBY_PORT].map((p) => `ws://127.0.0.1:${p}/ws`).join(',');
    const first = startChild('sidecar', process.execPath, [path.join(ROOT, 'dist/sidecar/sidecar.js')], {
      env: { ...env, WHATSAPP_SIDECAR_ID: id },
      survivable: true,
    });
    // Only the function socket port moves; the admin port follows it unless set for the first.
    const { WHATSAPP_ADMIN_PORT: _adminPort, ...standbyEnv } = env;
    const second = startChild('standby', process.execPath, [path.join(ROOT, 'dist/sidecar/sidecar.js')], {
      env: { ...standbyEnv, WHATSAPP_SIDECAR_ID: `${id}-standby`, WHATSAPP_SIDECAR_PORT: String(ports.WHATSAPP_STANDBY_PORT) },
      survivable: true,
    });
    say(
      `two sidecars: "${id}" (pid ${first.proc.pid}, port ${ports.WHATSAPP_SIDECAR_PORT}) and "${id}-standby" (pid ${second.proc.pid}, port ${ports.WHATSAPP_STANDBY_PORT}); session lease ${env.WHATSAPP_SESSION_LEASE}`,
    );
  } else {
    startChild('sidecar', process.execPath, [path.join(ROOT, 'dist/sidecar/sidecar.js')], { env });
  }
  if (useFunc) startChild('functions', 'func', ['start', '--port', String(ports.FUNCTIONS_PORT)], { env, shell: IS_WINDOWS });
  else startChild('functions', process.execPath, [path.join(ROOT, functionsEntry)], { env });

  if (!(await waitForPort(ports.FUNCTIONS_PORT))) {
    if (!stopping)
      warn(
        `the function host is not listening on ${ports.FUNCTIONS_PORT} after ${READY_TIMEOUT_MS / 1000} s; still waiting, see its output above`,
      );
    return;
  }
  const password = fromEnv.has('WHATSAPP_ADMIN_PASSWORD')
    ? 'your WHATSAPP_ADMIN_PASSWORD'
    : `"WHATSAPP_ADMIN_PASSWORD" in ${rel(SECRETS_FILE)}`;
  const url = `http://127.0.0.1:${ports.FUNCTIONS_PORT}/api/v1/whatsapp/notify`;
  say('');
  say('wa-notify is running.');
  say(`  Notify endpoint  POST ${url}`);
  say(`  Admin page       http://127.0.0.1:${ports.WHATSAPP_SIDECAR_PORT}/whatsapp  (pair WhatsApp here; password: ${password})`);
  if (STANDBY) {
    say(`  Standby          http://127.0.0.1:${ports.WHATSAPP_STANDBY_PORT}/whatsapp  (says which sidecar holds the session)`);
    say('  Failover         kill -9 the pid of the holder above; the other is open within the lease + 5 s');
  }
  say('  API key          npx wa-notify apikey create my-script --save   (then: npx wa-notify send --self "hello")');
  say(`  Try it           curl -s ${url} -H 'content-type: application/json' -d '{"apikey":"<key>","self":true,"message":"hello"}'`);
  say('  Stop             Ctrl-C');
  say('');
}

main().catch(async (error) => {
  warn(error instanceof StartError ? error.message : `failed: ${error instanceof Error ? error.stack : String(error)}`);
  await shutdown(1);
});
