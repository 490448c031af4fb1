/**
 * `wa-notify send` as a shell user runs it: the compiled bin in a child process against a real
 * paired stack, with the URL and key from the environment or flags; exit codes, output, and what
 * the loopback WhatsApp peer received.
 */
import { runProcess, type ProcessRun } from './support/run-process.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIST } from './support/paths.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { pdfBytes } from './support/sample-files.js';

const BIN = path.join(DIST, 'cli', 'main.js');

type Run = ProcessRun;

let stack: PairedStack;
const root = mkdtempSync(path.join(os.tmpdir(), 'wa-cli-send-'));

function cli(args: string[], options: { env?: Record<string, string | undefined>; stdin?: string } = {}): Promise<Run> {
  // WA_NOTIFY_ENV_FILE '' by default: a developer's own .data/dev.env must not leak into the test.
  const all = {
    PATH: process.env.PATH ?? '',
    WA_NOTIFY_ENV_FILE: '',
    WA_NOTIFY_URL: stack.fn.url,
    WA_NOTIFY_APIKEY: stack.apiKey,
    ...options.env,
  };
  return runProcess(process.execPath, [BIN, ...args], { env: all, cwd: root, stdin: options.stdin ?? '', timeoutMs: 30_000 });
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npx tsc -p tsconfig.json\` first`);
  writeFileSync(path.join(root, 'report.pdf'), pdfBytes('cli send'));
  stack = await startPairedStack({ name: 'cli-send', env: { WHATSAPP_ATTACHMENT_ROOTS: root } });
  stack.peer.addContact('919876543210');
  stack.peer.addContact('919876543211');
  stack.peer.addContact('15550009999', { onWhatsApp: false });
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
  rmSync(root, { recursive: true, force: true });
});

test('send --self "…": exit 0, one summary line, and the text reaches the paired phone', async () => {
  const run = await cli(['send', '--self', 'Build #482 finished']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^Queued for 1 recipient\(s\) \(id q\d{15}-[0-9a-f]{16}\)\n$/);
  await stack.peer.waitForMessage((m) => m.to === stack.peer.selfJid && m.text === 'Build #482 finished', 10_000);
});

test('the message from standard input (trailing newlines dropped), with --wait and --json', async () => {
  const run = await cli(['send', '--phone', '+91 98765 43210', '--wait', '--json'], { stdin: 'line one\nline two\n\n' });
  expect(run.code).toBe(0);
  const body = JSON.parse(run.stdout) as { status: string; data: { sent: string[] } };
  expect(body).toMatchObject({ status: 'success', data: { sent: ['919876543210@s.whatsapp.net'] } });
  const got = await stack.peer.waitForMessage((m) => m.text?.startsWith('line one') === true, 10_000);
  expect(got.text).toBe('line one\nline two');
});

test('--phones a,b and --username, with URL and key given as flags', async () => {
  await stack.linkUser('cli-user', '919876543211');
  const flags = ['--url', stack.fn.url, '--apikey', stack.apiKey];
  const env = { WA_NOTIFY_URL: 'http://127.0.0.1:9', WA_NOTIFY_APIKEY: 'wrong' }; // the flags win
  const phones = await cli(['send', '--phones', '919876543210,919876543211', '--wait', ...flags, 'to both'], { env });
  expect(phones.code).toBe(0);
  expect(phones.stdout).toMatch(/^Sent to 2 of 2 recipient\(s\)/);
  const user = await cli(['send', '--username', 'cli-user', '--wait', ...flags, 'to the user'], { env });
  expect(user.code).toBe(0);
  await stack.peer.waitForMessage((m) => m.to === '919876543211@s.whatsapp.net' && m.text === 'to the user');
});

test('--document (relative path made absolute) with --filename and --caption', async () => {
  const run = await cli([
    'send',
    '--phone',
    '919876543210',
    '--document',
    'report.pdf',
    '--filename',
    'CLI.pdf',
    '--caption',
    'from the cli',
    '--wait',
  ]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const doc = await stack.peer.waitForMessage((m) => m.kind === 'document' && m.fileName === 'CLI.pdf', 10_000);
  expect(doc.mimetype).toBe('application/pdf');
  await stack.peer.waitForMessage((m) => m.text === 'from the cli');
});

test('a bad API key: exit 1 and the API message on stderr', async () => {
  const run = await cli(['send', '--self', 'x'], { env: { WA_NOTIFY_APIKEY: 'not-a-key' } });
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toBe('wa-notify send: HTTP 401: Invalid or missing API key\n');
});

test('an API validation error names the field; none delivered with --wait exits 1 with the failure', async () => {
  const invalid = await cli(['send', '--phone', '12', 'x']);
  expect(invalid.code).toBe(1);
  expect(invalid.stderr).toMatch(/^wa-notify send: HTTP 400: phone .* \[phone\]\n$/);
  const none = await cli(['send', '--phone', '15550009999', '--wait', 'x']);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('HTTP 502: Sent to 0 of 1 recipient(s)');
  expect(none.stderr).toContain('failed 15550009999@s.whatsapp.net: not on WhatsApp');
});

test('usage errors exit 2 without calling the API: no recipient, two recipients, no message, no key', async () => {
  for (const [args, message] of [
    [['send', 'x'], 'give a recipient'],
    [['send', '--self', '--phone', '919876543210', 'x'], 'give only one of'],
    [['send', '--self'], 'no message'],
    [['send', '--self', '--bogus', 'x'], "Unknown option '--bogus'"],
  ] as const) {
    const run = await cli([...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  }
  const noKey = await cli(['send', '--self', 'x'], { env: { WA_NOTIFY_APIKEY: '' } });
  expect(noKey.code).toBe(2);
  expect(noKey.stderr).toContain('no API key');
});

test('--help prints usage on stdout with exit 0, and the top level lists send', async () => {
  const help = await cli(['send', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Usage: wa-notify send (--self | --phone <number> | --phones <a,b> | --username <name>)');
  expect(help.stdout).toContain('--idempotency-key <key>');
  const top = await cli(['--help']);
  expect(top.stdout).toMatch(/\n {2}send {2,}Send a WhatsApp notification/);
});

test('the function app unreachable: exit 1 with a one-line reason', async () => {
  const run = await cli(['send', '--self', 'x'], { env: { WA_NOTIFY_URL: 'http://127.0.0.1:9' } });
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^wa-notify send: Could not reach http:\/\/127\.0\.0\.1:9/);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
});

test('WhatsApp paused: exit 0 (even with --wait), and the line says it was deferred and must not be resent', async () => {
  expect((await stack.admin('POST', 'disconnect')).body.state).toBe('paused');
  try {
    const run = await cli(['send', '--phone', '919876543211', '--wait', 'deferred by the cli']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Deferred: WhatsApp is offline; queued for 1 recipient\(s\) until it reconnects \(id q\d{15}-[0-9a-f]{16}\); it is stored and will be sent, do not resend\n$/,
    );
    const json = await cli(['send', '--self', '--json', 'deferred, json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'success', deferred: true, queued: 1 });
  } finally {
    await stack.admin('POST', 'connect');
  }
  await stack.waitForState('open');
  await stack.peer.waitForMessage((m) => m.text === 'deferred by the cli', 15_000);
});

test('the README\'s steps as written: `apikey create <name> --save`, then `send --self "hello"` with nothing exported', async () => {
  // What `npm start` writes to .data/dev.env (scripts/start.mjs writeEnvFile), in a file of our own.
  const devEnv = path.join(root, 'dev.env');
  const storagePort = new URL(/TableEndpoint=([^;]+)/.exec(stack.env.WHATSAPP_TABLES_CONNECTION!)![1]!).port;
  writeFileSync(
    devEnv,
    [
      '# Written by `npm start`',
      `AZURITE_TABLE_PORT='${storagePort}'`,
      `WHATSAPP_API_KEY_PEPPER='${stack.env.WHATSAPP_API_KEY_PEPPER!}'`,
      `WA_NOTIFY_URL='${stack.fn.url}'`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const bare = { WA_NOTIFY_ENV_FILE: devEnv, WA_NOTIFY_URL: undefined, WA_NOTIFY_APIKEY: undefined };
  const created = await cli(['apikey', 'create', 'readme-steps', '--save'], { env: bare });
  expect(created.stderr).toContain('saved it as WA_NOTIFY_APIKEY');
  expect(created.code).toBe(0);
  const key = created.stdout.trim();
  expect(key).toMatch(/^wan_/);
  const saved = readFileSync(devEnv, 'utf8');
  expect(saved).toContain(`WA_NOTIFY_APIKEY='${key}'\n`);
  expect(saved).toContain(`WA_NOTIFY_URL='${stack.fn.url}'`); // the rest of the file is kept
  expect(statSync(devEnv).mode & 0o777).toBe(0o600);

  const sent = await cli(['send', '--self', 'hello from the README'], { env: bare });
  expect(sent.stderr).toBe('');
  expect(sent.code).toBe(0);
  await stack.peer.waitForMessage((m) => m.to === stack.peer.selfJid && m.text === 'hello from the README', 10_000);

  // A second --save replaces the key rather than adding a line; the environment still wins over the file.
  const again = await cli(['apikey', 'create', 'readme-steps-2', '--save'], { env: bare });
  expect(again.code).toBe(0);
  expect(readFileSync(devEnv, 'utf8').match(/^WA_NOTIFY_APIKEY=/gm)).toHaveLength(1);
  const overridden = await cli(['send', '--self', 'x'], { env: { ...bare, WA_NOTIFY_APIKEY: 'wan_wrong' } });
  expect(overridden.code).toBe(1);
  expect(overridden.stderr).toContain('HTTP 401');
});

test('send --phone without the country code: the API refuses it, and the CLI shows why', async () => {
  const run = await cli(['send', '--phone', '98765 43210', 'x']);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe(
    'wa-notify send: HTTP 400: phone 9876543210 is not a possible number for +98 (IR); include the country code, e.g. 919876543210 [phone]\n',
  );
});
