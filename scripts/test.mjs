// `npm test` — the one test command, also what .ci/run calls. On a fresh clone it installs what the
// tests need (npm packages; Debian's chromium for the admin-page browser tests), compiles (tests
// start the compiled sidecar as a child process), lints (ESLint, Prettier), then runs jest in ESM mode (Baileys, used by the
// loopback WhatsApp peer in test/, is ESM-only). Extra arguments go to jest.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args, env = process.env) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

// `npm install`, not `npm ci`: the lock lists platform-specific optional packages only for the
// platforms the registry served, and `npm ci` refuses such a lock where `npm install` copes.
if (!existsSync(path.join(root, 'node_modules', '.package-lock.json'))) run('npm', ['install', '--no-audit', '--no-fund']);

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.log('[test] installing Debian chromium for the browser tests');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], env);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], env);
  } else {
    console.error(`[test] ${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
    process.exit(1);
  }
}

run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
// The sidecar the tests start as a process is the bundle that ships (scripts/bundle-sidecar.mjs).
run(process.execPath, [path.join(root, 'scripts', 'bundle-sidecar.mjs')]);
// Lint and format are part of the suite: a finding fails `npm test` like a failing test would.
run(process.execPath, [path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.']);
run(process.execPath, [path.join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'), '--check', '--log-level', 'warn', '.']);
const resultsFile = path.join(root, 'test-output', 'jest-results.json');
const jest = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    '--no-warnings=ExperimentalWarning',
    path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
    '--json',
    `--outputFile=${resultsFile}`,
    ...process.argv.slice(2),
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, '--experimental-vm-modules'].filter(Boolean).join(' ') },
  },
);
// A plain closing line that any CI reader understands.
if (existsSync(resultsFile)) {
  const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
}
process.exit(jest.status ?? 1);
