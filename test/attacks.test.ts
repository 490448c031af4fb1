/**
 * The attack table: what someone who found the service through a tunnel would try, against the
 * real function hosts, the real sidecar process and a real Azurite. Key brute force, a valid key
 * over its limit spread across two function instances, raw and authenticated abuse of the sidecar
 * WebSocket, slow handshakes, and the function client reaching the sidecar through a TLS (`wss://`)
 * front.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { createApiKeyStore } from '../shared/api-keys.js';
import { newNotificationId } from '../shared/notification-queue.js';
import { freePort } from './support/free-port.js';
import { DIST } from './support/paths.js';
import { TEST_OUTPUT } from './support/sidecar-process.js';
import { startStack, type FunctionInstance, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ name: 'attacks', env: { WHATSAPP_RATE_LIMIT: '5 per minute' } });
  await stack.tables.ensureTables();
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
});

const TOKEN = () => stack.env.WHATSAPP_SIDECAR_TOKEN!;
const sidecarPort = () => Number(new URL(stack.sidecar.url).port);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function queueRows(): Promise<number> {
  let n = 0;
  for await (const _ of stack.tables.client('queue').listEntities({ queryOptions: { select: ['RowKey'] } })) n++;
  return n;
}

async function newKey(name: string): Promise<string> {
  return (await createApiKeyStore(stack.tables, stack.env.WHATSAPP_API_KEY_PEPPER!).create(`${name}-${randomBytes(3).toString('hex')}`))
    .key;
}

/** The sidecar's log from `offset` on (the file is appended to across runs). */
const sidecarLogSince = (offset: number) => readFileSync(stack.sidecar.logFile).subarray(offset).toString('utf8');
const sidecarLogSize = () => statSync(stack.sidecar.logFile).size;

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A client WebSocket frame (masked, as RFC 6455 requires of clients), built by hand. */
function wsFrame(payload: Buffer, opcode = 0x1): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126 && len < 65_536) {
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else if (len >= 65_536) {
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, masked]);
}

/** A `send` frame that, if the sidecar ever read it, would put a notification in the queue. */
function smugglingSend(): Buffer {
  const now = new Date();
  return Buffer.from(
    JSON.stringify({
      v: 1,
      type: 'send',
      requestId: 'attacker-1',
      rejectIfOffline: false,
      notification: {
        id: newNotificationId(now),
        apiKeyHash: 'attacker',
        createdAt: now.toISOString(),
        skipped: 0,
        waitForDelivery: false,
        recipients: [{ kind: 'self' }],
        content: { message: 'smuggled' },
      },
    }),
  );
}

const upgradeRequest = (headers: string[], target = '/ws') =>
  [
    `GET ${target} HTTP/1.1`,
    `Host: 127.0.0.1:${sidecarPort()}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Protocol: wa-notify.v1',
    ...headers,
    '',
    '',
  ].join('\r\n');

/**
 * Raw TCP: an upgrade request with the frames right behind it in the same write, then more frames
 * for a while. Half-open on our side, so only the server can end the connection.
 */
function rawUpgradeAttack(headers: string[], target = '/ws'): Promise<{ response: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port: sidecarPort(), host: '127.0.0.1', allowHalfOpen: true });
    let response = '';
    let closedByServer = false;
    const frames = () =>
      Buffer.concat([wsFrame(Buffer.from('{not json')), wsFrame(smugglingSend()), wsFrame(Buffer.from('x'.repeat(2_000_000)))]);
    let ticks = 0;
    const pump = setInterval(() => {
      if (++ticks > 20 || socket.destroyed) {
        clearInterval(pump);
        socket.destroy();
        resolve({ response, closedByServer });
        return;
      }
      socket.write(wsFrame(smugglingSend()), () => undefined);
    }, 100);
    socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closedByServer = ticks <= 20;
      clearInterval(pump);
      resolve({ response, closedByServer });
    });
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(upgradeRequest(headers, target), 'latin1'), frames()])));
  });
}

/** An authenticated WebSocket (the function's own credentials), for the frame-level limits. */
function authenticatedSocket(extraHeaders: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(stack.env.WHATSAPP_SIDECAR_URL!, 'wa-notify.v1', {
      headers: { Authorization: `Bearer ${TOKEN()}`, ...extraHeaders },
      maxPayload: 64 * 1024 * 1024,
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
  });
}

const closeCode = (ws: WebSocket, timeoutMs = 5_000) =>
  new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sidecar did not close the socket')), timeoutMs);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });

describe('API key brute force', () => {
  let instance: FunctionInstance;
  beforeAll(async () => {
    instance = await stack.startFunctionInstance(); // its own per-address counter
  });
  afterAll(async () => {
    await instance.close();
  });

  test('wrong keys trip the per-address limit: 429 with Retry-After, then even a valid key is held off', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 24; i++) {
      const res = await stack.notify({ apikey: `wan_guess_${i}`, self: true, message: 'x' }, { url: instance.url });
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after');
        // Which limit, and its rate: the caller can tell a lock-out from its own key's budget.
        expect(res.body).toEqual({
          status: 'error',
          message: `Too many failed API key attempts from this address (20 per minute); retry in ${res.headers.get('retry-after')} s`,
        });
      }
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(4).fill(429));
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // Blocked means blocked: the attacker cannot test a stolen key from this address either.
    const valid = await stack.notify({ apikey: stack.apiKey, self: true, message: 'x' }, { url: instance.url });
    expect(valid.status).toBe(429);
    // The status route shares the counter: no second door.
    const status = await fetch(`${instance.url}/api/v1/whatsapp/notify/q202601010000-0000000000000000`, {
      headers: { 'X-API-KEY': 'wan_guess' },
    });
    expect(status.status).toBe(429);
  });

  test('behind a proxy on this host, each forwarded client has its own brake; forged entries before the last do not help', async () => {
    // What a tunnel (cloudflared, ngrok) or nginx on this host sends: the client it saw, appended last.
    const other = await stack.startFunctionInstance();
    try {
      const attacker = (i: number) => ({ 'X-Forwarded-For': `10.9.${i}.1, 203.0.113.7` }); // forged prefix, real last entry
      const statuses: number[] = [];
      for (let i = 0; i < 22; i++)
        statuses.push(
          (await stack.notify({ apikey: `wan_${i}`, self: true, message: 'x' }, { url: other.url, headers: attacker(i) })).status,
        );
      expect(statuses.slice(20)).toEqual([429, 429]);
      // Another client behind the same proxy is not locked out by the attacker.
      const honest = await stack.notify(
        { apikey: await newKey('honest'), self: true, message: 'x' },
        { url: other.url, headers: { 'X-Forwarded-For': '198.51.100.9' } },
      );
      expect(honest.status).toBe(200);
      expect(honest.body.deferred).toBe(true);
    } finally {
      await other.close();
    }
  });

  test('keys in the header count the same as keys in the body', async () => {
    const other = await stack.startFunctionInstance();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 22; i++) {
        const res = await stack.notify(i % 2 ? { apikey: `wan_${i}`, self: true, message: 'x' } : { self: true, message: 'x' }, {
          url: other.url,
          headers: i % 2 ? {} : { 'X-API-KEY': `wan_${i}` },
        });
        statuses.push(res.status);
      }
      expect(statuses.filter((s) => s === 401)).toHaveLength(20);
      expect(statuses.slice(20)).toEqual([429, 429]);
    } finally {
      await other.close();
    }
  });
});

describe('a valid key over its limit', () => {
  test('is cut off at the limit in total across two function instances (the sidecar holds the count)', async () => {
    const key = await newKey('spread');
    const second = await stack.startFunctionInstance();
    try {
      const before = await queueRows();
      const results: { status: number; retryAfter: string | null; via: string }[] = [];
      for (let i = 0; i < 8; i++) {
        const via = i % 2 === 0 ? stack.fn.url : second.url;
        const res = await stack.notify({ apikey: key, self: true, message: `spread ${i}` }, { url: via });
        results.push({ status: res.status, retryAfter: res.headers.get('retry-after'), via: via === stack.fn.url ? 'A' : 'B' });
        // Refused by the sidecar (each instance saw under 5): its answer names the limit and rate too.
        if (res.status === 429) {
          expect(res.body).toEqual({
            status: 'error',
            message: `Too many requests for this API key (5 per minute, WHATSAPP_RATE_LIMIT); retry in ${res.headers.get('retry-after')} s`,
          });
        }
      }
      // Each instance saw 4 requests (under its own 5), yet the 6th overall is refused.
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      for (const r of results.slice(5)) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      // Exactly the five accepted notifications reached the queue (a header row + a recipient row each).
      expect((await queueRows()) - before).toBe(10);
    } finally {
      await second.close();
    }
  });

  test('one instance alone also stops at the limit (its own first filter)', async () => {
    const key = await newKey('single');
    const statuses: number[] = [];
    let refused: unknown;
    for (let i = 0; i < 7; i++) {
      const res = await stack.notify({ apikey: key, self: true, message: 'x' });
      statuses.push(res.status);
      if (res.status === 429) refused = res.body.message;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(refused).toMatch(/^Too many requests for this API key \(5 per minute, WHATSAPP_RATE_LIMIT\); retry in \d+ s$/);
  });
});

describe('the sidecar WebSocket', () => {
  test.each([
    ['no token', [] as string[]],
    ['a wrong token', ['Authorization: Bearer not-the-token']],
    ['the token as a query string', []],
    ['a token in a cookie', ['Cookie: token=x']],
  ])('%s: refused with 401 before any frame is read, and the connection is closed', async (name, headers) => {
    const logOffset = sidecarLogSize();
    const before = await queueRows();
    const attack = await rawUpgradeAttack(headers, name.includes('query') ? `/ws?token=${TOKEN()}&access_token=${TOKEN()}` : '/ws');
    expect(attack.response).toMatch(/^HTTP\/1\.1 401 /);
    expect(attack.response).not.toContain('101 Switching Protocols');
    expect(attack.closedByServer).toBe(true); // not left half-open for the attacker to hold

    // Control: the same garbage from an authenticated peer IS read (logged, closed with 1002).
    const ws = await authenticatedSocket();
    const closed = closeCode(ws);
    ws.send('{not json');
    expect(await closed).toBe(1002);
    await waitFor('the control frame in the sidecar log', () => sidecarLogSince(logOffset).includes('unreadable frame'));

    const log = sidecarLogSince(logOffset);
    expect(log.match(/unreadable frame/g)).toHaveLength(1); // the control's, not the attacker's
    expect(log).not.toContain('failed to handle a frame');
    expect(log).toContain('refused a sidecar connection without a valid token');
    expect(await queueRows()).toBe(before);
  });

  test('the Origin header is neither required nor trusted', async () => {
    const ws = await authenticatedSocket({ Origin: 'https://evil.example' });
    ws.close();
    const attack = await rawUpgradeAttack([`Origin: http://127.0.0.1:${sidecarPort()}`]);
    expect(attack.response).toMatch(/^HTTP\/1\.1 401 /);
  });

  test('an oversized frame closes the socket with 1009', async () => {
    const ws = await authenticatedSocket();
    const closed = closeCode(ws);
    ws.send('x'.repeat(1024 * 1024 + 1));
    expect(await closed).toBe(1009);
  });

  test('too many requests in flight on one socket closes it with 4029', async () => {
    const ws = await authenticatedSocket();
    const closed = closeCode(ws, 10_000);
    for (let i = 0; i < 500; i++) {
      ws.send(JSON.stringify({ v: 1, type: 'watch', requestId: `w${i}`, id: `q202601010000-${String(i).padStart(16, '0')}` }));
    }
    expect(await closed).toBe(4029);
  });

  test('a handshake dripped a byte at a time is cut off by the header timeout', async () => {
    const started = Date.now();
    const request = Buffer.from(upgradeRequest([`Authorization: Bearer ${TOKEN()}`]), 'latin1');
    const outcome = await new Promise<{ closed: boolean; response: string }>((resolve) => {
      const socket = net.connect({ port: sidecarPort(), host: '127.0.0.1', allowHalfOpen: true });
      let response = '';
      let i = 0;
      // One byte every 200 ms: the full request would take ~50 s.
      const drip = setInterval(() => {
        if (i < request.length - 4 && !socket.destroyed) socket.write(request.subarray(i, ++i));
      }, 200);
      const give = setTimeout(() => {
        clearInterval(drip);
        socket.destroy();
        resolve({ closed: false, response });
      }, 20_000);
      socket.on('data', (d: Buffer) => (response += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(drip);
        clearTimeout(give);
        resolve({ closed: true, response });
      });
    });
    expect(outcome.closed).toBe(true);
    expect(outcome.response).not.toContain('101');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(15_000); // headersTimeout is 10 s
    expect(elapsed).toBeGreaterThan(8_000);
  }, 30_000);

  test('a 401 to a slow reader does not wait for it: many refused upgrades leave no connections behind', async () => {
    const attempts = await Promise.all(Array.from({ length: 50 }, () => rawUpgradeAttack(['Authorization: Bearer nope'])));
    expect(attempts.every((a) => a.response.startsWith('HTTP/1.1 401') && a.closedByServer)).toBe(true);
    expect((await fetch(`${stack.sidecar.url}/healthz`)).status).toBe(200);
  }, 30_000);
});

describe('wss:// through a TLS front', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'wa-notify-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The proxy: TLS in, plain TCP to the sidecar, as nginx or Caddy would do; records what the sidecar sent. */
  async function tlsFront() {
    const seen = { secureConnections: 0, fromSidecar: '' };
    const front = tls.createServer(
      { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) },
      (clear) => {
        seen.secureConnections++;
        const upstream = net.connect(sidecarPort(), '127.0.0.1');
        upstream.on('data', (d: Buffer) => (seen.fromSidecar += d.toString('latin1')));
        clear.pipe(upstream).pipe(clear);
        const done = () => {
          clear.destroy();
          upstream.destroy();
        };
        for (const s of [clear, upstream]) {
          s.on('error', done);
          s.on('close', done);
        }
      },
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    return {
      seen,
      port: (front.address() as net.AddressInfo).port,
      close: () => new Promise<void>((resolve) => front.close(() => resolve())),
    };
  }

  test('the function client verifies the certificate: an untrusted one is not used, the notification is queued directly', async () => {
    const front = await tlsFront();
    const instance = await stack.startFunctionInstance({ WHATSAPP_SIDECAR_URL: `wss://127.0.0.1:${front.port}/ws` });
    try {
      const res = await stack.notify({ apikey: await newKey('wss-untrusted'), self: true, message: 'over TLS' }, { url: instance.url });
      expect(res.status).toBe(200); // deferred: queued by the function itself
      expect(res.body.deferred).toBe(true);
      expect(front.seen.fromSidecar).not.toContain('101 Switching Protocols'); // no handshake completed through TLS
    } finally {
      await instance.close();
      await front.close();
    }
  });

  test('the function host reaches the sidecar over wss:// when it trusts the front (NODE_EXTRA_CA_CERTS)', async () => {
    const front = await tlsFront();
    // A separate function host process: a trusted CA can only be added at process start.
    const functionsPort = await freePort();
    const logFile = path.join(TEST_OUTPUT, 'logs', 'attacks.functions-wss.log');
    const out = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(process.execPath, [path.join(DIST, 'functions', 'local-host.js')], {
      env: {
        ...stack.env,
        FUNCTIONS_PORT: String(functionsPort),
        WHATSAPP_SIDECAR_URL: `wss://127.0.0.1:${front.port}/ws`,
        NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const url = `http://127.0.0.1:${functionsPort}`;
    try {
      await waitFor('the function host', () => child.exitCode === null, 1_000);
      const deadline = Date.now() + 15_000;
      let res: Awaited<ReturnType<Stack['notify']>> | undefined;
      while (!res && Date.now() < deadline) {
        res = await stack.notify({ apikey: await newKey('wss'), self: true, message: 'over TLS' }, { url }).catch(() => undefined);
        if (!res) await sleep(200);
      }
      expect(res?.status).toBe(200);
      expect(res?.body.deferred).toBe(true);
      expect(front.seen.secureConnections).toBeGreaterThanOrEqual(1);
      // The sidecar itself accepted it, through the TLS front (server frames are not masked).
      expect(front.seen.fromSidecar).toContain('101 Switching Protocols');
      expect(front.seen.fromSidecar).toContain('"type":"accepted"');
      expect(front.seen.fromSidecar).toContain(String(res?.body.id));
    } finally {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      });
      out.end();
      await front.close();
    }
  }, 30_000);
});
