/**
 * Log hygiene. Part 1 drives a whole stack the way careless and hostile clients would — keys in
 * bodies, headers and other fields, wrong keys, phone numbers in every accepted form, admin calls
 * with the Bearer password and with a cookie session — then reads back every log file this test's
 * stack wrote (test-output/logs/log-hygiene.*) and looks for each secret and each full phone number.
 *
 * Only this test's own files are read: jest runs test files in parallel and the other files write
 * their logs (with their own secrets) into the same folder at the same time, so a check over the
 * whole folder cannot be made from inside one test file. The stack here uses the same fixed test
 * token, pepper, session secret and admin password as every other stack, so its files are a fair
 * sample of what the code logs.
 *
 * A paired stack (the loopback WhatsApp peer) then sends, crashes and sends again: Baileys' Signal
 * library prints whole sessions, private keys included, to the console, which must not reach the log.
 *
 * Last, the logger's own safety nets (redaction paths, masking inside error messages) on a
 * real pino logger writing to a real stream.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createApiKeyStore } from '../shared/api-keys.js';
import { createLogger } from '../shared/logger.js';
import { TEST_OUTPUT } from './support/sidecar-process.js';
import { startPairedStack } from './support/paired-stack.js';
import { startStack, type Stack } from './support/stack.js';

const NAME = 'log-hygiene';
const LOG_DIR = path.join(TEST_OUTPUT, 'logs');
const ownLogFiles = () =>
  // A fresh clone may run this file before any other has written a log.
  (existsSync(LOG_DIR) ? readdirSync(LOG_DIR) : []).filter((f) => f.startsWith(`${NAME}.`)).map((f) => path.join(LOG_DIR, f));

// Numbers this test sends; none may appear in full in any log.
const PHONES = ['919812345678', '447911123456', '12025550143', '33612345678', '4915123456789', '61412345678', '5511912345678'];

let stack: Stack;
const secrets = new Map<string, string>(); // label → value

beforeAll(async () => {
  for (const f of ownLogFiles()) rmSync(f, { force: true }); // this run's lines only
  // debug: the per-notification lines (notification accepted) are logged at debug, and must be clean too
  stack = await startStack({ name: NAME, env: { LOG_LEVEL: 'debug' } });
  secrets.set('api key', stack.apiKey);
  secrets.set('sidecar token', stack.env.WHATSAPP_SIDECAR_TOKEN!);
  secrets.set('admin password', stack.adminPassword);
  secrets.set('pepper', stack.env.WHATSAPP_API_KEY_PEPPER!);
  secrets.set('session secret', stack.env.WHATSAPP_SESSION_SECRET!);
}, 60_000);

afterAll(async () => {
  await stack?.dispose();
});

async function drive(): Promise<void> {
  const { key: second } = await createApiKeyStore(stack.tables, stack.env.WHATSAPP_API_KEY_PEPPER!).create('second');
  secrets.set('second api key', second);
  const wrongKeys = ['wan_wrong_0123456789abcdef', 'sk-live-NOT-A-REAL-KEY-4242', 'Bearer wan_header_guess_777'];
  wrongKeys.forEach((k, i) => secrets.set(`wrong key ${i}`, k));
  const [p0, p1, p2, p3, p4, p5, p6] = PHONES as [string, string, string, string, string, string, string];

  const statuses: number[] = [];
  const notify = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await stack.notify(body, { headers });
    statuses.push(res.status);
    return res;
  };

  // Valid notifications, the key in the body and in the header, phones in every accepted form.
  await notify({ apikey: stack.apiKey, phone: p0, message: 'plain' });
  await notify({ phone: `+${p1.slice(0, 2)} ${p1.slice(2, 6)} ${p1.slice(6)}`, message: 'spaced' }, { 'X-API-KEY': second });
  await notify({ apikey: stack.apiKey, phone: Number(p2), message: 'integer', wait_for_delivery: true });
  await notify({ apikey: second, phones: [p3, `+${p4}`, p3, `(${p5.slice(0, 2)}) ${p5.slice(2)}`], message: 'several' });
  // The key and the numbers inside other fields.
  await notify({
    apikey: stack.apiKey,
    self: true,
    message: `my key is ${stack.apiKey} and my number ${p6}`,
    idempotency_key: second.slice(0, 64),
  });
  await notify({ apikey: stack.apiKey, phone: p0, message: 'x', caption: stack.apiKey, filename: second });
  await notify({ apikey: stack.apiKey, username: stack.apiKey, message: 'username is a key' });
  await notify({ apikey: stack.apiKey, username: p6, message: 'username is a number' });
  await notify({ apikey: stack.apiKey, phone: p0, image_path: `/srv/${stack.apiKey}/${p1}.png` });
  await notify({ apikey: stack.apiKey, phone: p0, document_path: `/etc/${second}` });
  await notify({ apikey: stack.apiKey, phone: `${p1}x`, message: 'a bad number' });
  await notify({ apikey: stack.apiKey, phones: [p2, `${p3}${p3}`], message: 'a bad entry' });
  // Wrong keys, in the body and in the header, with numbers in the body.
  await notify({ apikey: wrongKeys[0], phone: p4, message: 'x' });
  await notify({ phone: p5, message: 'x' }, { 'X-API-KEY': wrongKeys[1]! });
  await notify({ phone: p5, message: 'x' }, { Authorization: wrongKeys[2]!, 'X-API-KEY': wrongKeys[2]! });
  // A body that is not JSON but carries the key.
  await notify(undefined, { 'X-API-KEY': stack.apiKey, 'Content-Type': 'text/plain' });
  // The status route with the key.
  await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/q202601010000-0000000000000000`, { headers: { 'X-API-KEY': stack.apiKey } });

  // A function instance that cannot reach the sidecar (it queues directly and logs why).
  const lonely = await stack.startFunctionInstance({ WHATSAPP_SIDECAR_URL: 'ws://127.0.0.1:9/ws' });
  try {
    const deferred = await stack.notify({ apikey: stack.apiKey, phone: p1, message: 'no sidecar' }, { url: lonely.url });
    expect(deferred.status).toBe(200);
    expect(deferred.body.deferred).toBe(true);
  } finally {
    await lonely.close();
  }

  // Admin API with the Bearer password.
  expect((await stack.admin('GET', 'status')).status).toBe(200);
  expect((await stack.admin('POST', 'users', { username: 'trader', phone: `+${p3}` })).status).toBe(200);
  expect((await stack.admin('GET', 'users')).status).toBe(200);
  const created = await stack.admin('POST', 'keys', { name: 'from-admin' });
  expect(created.status).toBe(200);
  secrets.set('admin-created key', String(created.body.key));
  expect((await stack.admin('GET', 'keys')).status).toBe(200);
  expect((await stack.admin('DELETE', 'keys/from-admin')).status).toBe(200);
  expect((await stack.admin('GET', 'queue')).status).toBe(200);
  expect((await stack.admin('POST', 'users', { username: 'bad', phone: `${p6}99999` })).status).toBe(400);
  await notify({ apikey: stack.apiKey, username: 'trader', message: 'to a linked user' });
  // Admin with wrong passwords (a near miss and another secret).
  const wrongAdmin = await fetch(`${stack.sidecar.url}/whatsapp/api/status`, {
    headers: { Authorization: `Bearer ${stack.adminPassword}x` },
  });
  expect(wrongAdmin.status).toBe(401);
  await fetch(`${stack.sidecar.url}/whatsapp/api/status`, { headers: { Authorization: `Bearer ${stack.apiKey}` } });

  // The admin page's cookie session: sign in, then a mutating call with the CSRF token.
  const signIn = await fetch(`${stack.sidecar.url}/whatsapp/api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: stack.adminPassword }),
  });
  if (signIn.status === 200) {
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { csrf } = (await signIn.json()) as { csrf: string };
    secrets.set('session cookie', cookie.split('=')[1]!);
    secrets.set('csrf token', csrf);
    await fetch(`${stack.sidecar.url}/whatsapp/api/users`, {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'cookie-user', phone: p4 }),
    });
    await fetch(`${stack.sidecar.url}/whatsapp/api/users`, {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': 'forged', 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'forged', phone: p5 }),
    });
  }
  await fetch(`${stack.sidecar.url}/whatsapp/api/session`, {
    method: 'POST',
    body: JSON.stringify({ password: `${stack.env.WHATSAPP_SESSION_SECRET}` }),
  });

  // The sidecar socket with a wrong token (the real one is in the other requests' logs, if anywhere).
  await new Promise<void>((resolve) => {
    const socket = net.connect(Number(new URL(stack.sidecar.url).port), '127.0.0.1');
    socket.on('connect', () =>
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${stack.env.WHATSAPP_SIDECAR_TOKEN}-nope\r\n\r\n`,
      ),
    );
    socket.on('data', () => socket.destroy());
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });

  // The notifications above really ran through both services (200 accepted or deferred, 400, 401, 404).
  expect(statuses).toEqual(expect.arrayContaining([200, 400, 401, 404]));
}

describe('a captured log of a full run', () => {
  test('holds no key, token, password, pepper, session secret or session material, and no full phone number', async () => {
    await drive();
    await stack.dispose(); // stop every process so its log is complete and flushed
    const files = ownLogFiles();
    expect(files.some((f) => f.endsWith('.sidecar.log'))).toBe(true);
    expect(files.filter((f) => f.includes('.functions-')).length).toBeGreaterThanOrEqual(2);
    const logs = files.map((f) => ({ file: path.basename(f), text: readFileSync(f, 'utf8') }));
    const all = logs.map((l) => l.text).join('\n');

    const leaks: string[] = [];
    for (const { file, text } of logs) {
      for (const [label, value] of secrets) if (value && text.includes(value)) leaks.push(`${label} in ${file}`);
      for (const phone of PHONES) if (text.includes(phone)) leaks.push(`phone ${phone} in ${file}`);
      for (const word of ['noiseKey', 'signedIdentityKey', 'advSecretKey', 'privKey', 'Bearer '])
        if (text.includes(word)) leaks.push(`"${word}" in ${file}`);
    }
    expect(leaks).toEqual([]);

    // The logs did record these events, masked: the check above looked at real lines.
    expect(all).toContain('notification accepted');
    expect(all).toContain('refused a sidecar connection without a valid token');
    expect(all).toContain('sidecar unreachable');
    expect(all).toMatch(/91981\*+678/);
    expect(all).toContain('attachment refused');
  }, 60_000);
});

describe('a paired sidecar (the loopback WhatsApp peer) while it sends', () => {
  const PAIRED = 'log-hygiene-paired';
  test('holds no Signal session material and no full phone number', async () => {
    for (const f of readdirSync(LOG_DIR).filter((f) => f.startsWith(`${PAIRED}.`))) rmSync(path.join(LOG_DIR, f), { force: true });
    // debug: the per-send line ('sent', with the masked number) is logged at debug, and must be clean too
    const paired = await startPairedStack({ name: PAIRED, env: { LOG_LEVEL: 'debug' } });
    try {
      paired.peer.addContact(PHONES[0]!);
      paired.peer.addContact(PHONES[1]!);
      const res = await paired.notify({ apikey: paired.apiKey, phones: [PHONES[0], PHONES[1]], message: 'hello', wait_for_delivery: true });
      expect(res.status).toBe(200);
      // A crash and a second round: sessions are reloaded, and may be closed and reopened.
      await paired.sidecar.stop({ crash: true });
      await paired.sidecar.start();
      await paired.waitForState('open');
      expect((await paired.notify({ apikey: paired.apiKey, phone: PHONES[0], message: 'again', wait_for_delivery: true })).status).toBe(
        200,
      );
    } finally {
      await paired.dispose();
    }
    const sidecarLog = readFileSync(path.join(LOG_DIR, `${PAIRED}.sidecar.log`), 'utf8');
    expect(sidecarLog).toContain('"msg":"sent"');
    const leaks = [
      'privKey',
      'rootKey',
      'chainKey',
      'SessionEntry',
      'noiseKey',
      'advSecretKey',
      ...PHONES.slice(0, 2),
      paired.apiKey,
    ].filter((w) => sidecarLog.includes(w));
    expect(leaks).toEqual([]);
  }, 90_000);
});

describe("the logger's safety nets", () => {
  const capture = () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ level: 'info', destination });
    return { log, text: () => lines.join('') };
  };

  test('secrets are redacted by name, at the top level and one or two levels down', async () => {
    const { log, text } = capture();
    log.info({ apikey: 'k1-secret', token: 't1-secret', password: 'p1-secret', pepper: 'pp1-secret', cookie: 'c1-secret' }, 'top');
    log.info(
      { body: { apikey: 'k2-secret' }, headers: { authorization: 'Bearer a2-secret', 'x-api-key': 'k3-secret', cookie: 'c2-secret' } },
      'nested',
    );
    log.info({ req: { headers: { authorization: 'Bearer a3-secret', 'x-api-key': 'k4-secret', cookie: 'c3-secret' } } }, 'request');
    log.info(
      { config: { sidecarToken: 't2-secret', adminPassword: 'p2-secret', apiKeyPepper: 'pp2-secret', sessionSecret: 's2-secret' } },
      'config',
    );
    log.info({ state: { creds: { noiseKey: 'n-secret' } }, session: 'sess-secret' }, 'creds');
    await new Promise((r) => setImmediate(r));
    expect(text()).toContain('[redacted]');
    expect(text()).not.toMatch(/-secret/);
  });

  test('phone numbers are masked in messages, fields, arrays, JIDs and error messages', async () => {
    const { log, text } = capture();
    log.info({ to: '919812345678@s.whatsapp.net', list: ['+447911123456', { deep: '12025550143' }] }, 'sending to 33612345678');
    const error = new Error('could not send to 4915123456789@s.whatsapp.net');
    (error as Error & { cause?: unknown }).cause = new Error('peer 61412345678 refused');
    log.error({ err: error }, 'failed');
    log.error(new Error('lookup of 5511912345678 failed'));
    await new Promise((r) => setImmediate(r));
    for (const phone of PHONES) expect(text()).not.toContain(phone);
    expect(text()).toContain('91981****678');
    expect(text()).toContain('"type":"Error"');
    // The caller's error object is not changed by logging it.
    expect(error.message).toBe('could not send to 4915123456789@s.whatsapp.net');
  });
});
