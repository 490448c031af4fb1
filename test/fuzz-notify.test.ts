/**
 * Hostile input against the real notify endpoint (real HTTP, the real sidecar process, a real
 * Azurite): first a table of named attacks, each of which must be refused with a 4xx JSON error and
 * must leave the durable queue untouched; then ≥ 10,000 generated bodies (fast-check), valid-ish
 * and hostile mixed, sent 16 at a time over keep-alive connections: never a 5xx, never a crash,
 * every 400 names a `field`, and no attachment path is echoed back.
 */
import net from 'node:net';
import fc from 'fast-check';
import { startLocalHost } from '../functions/local-host-server.js';
import { functionRoutes } from '../functions/routes.js';
import { startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ name: 'fuzz-notify' });
  await stack.tables.ensureTables();
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
});

const NOTIFY_PATH = '/api/v1/whatsapp/notify';

async function queueRows(): Promise<number> {
  let n = 0;
  for await (const _ of stack.tables.client('queue').listEntities({ queryOptions: { select: ['RowKey'] } })) n++;
  return n;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  body: Record<string, unknown> | undefined;
  retryAfter?: string | null;
}

const parse = (text: string): Record<string, unknown> | undefined => {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

async function post(body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${stack.fn.url}${NOTIFY_PATH}`, {
    method: 'POST',
    headers: { 'X-API-KEY': stack.apiKey, ...headers },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text,
    body: parse(text),
    retryAfter: res.headers.get('retry-after'),
  };
}

/**
 * One request written byte for byte on a fresh TCP connection (for what fetch will not send: lying
 * Content-Length, half-closed bodies); resolves with the first response on it.
 */
function rawExchange(port: number, bytes: Buffer, options: { halfClose?: boolean; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no complete response within ${options.timeoutMs ?? 10_000} ms; got ${JSON.stringify(data.toString('latin1').slice(0, 200))}`,
        ),
      );
    }, options.timeoutMs ?? 10_000);
    const tryParse = (final: boolean) => {
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return final ? fail() : undefined;
      const head = text.slice(0, end);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
      const bodyBytes = data.subarray(Buffer.byteLength(head, 'latin1') + 4);
      if (length >= 0 && bodyBytes.length < length && !final) return undefined;
      const bodyText = bodyBytes.subarray(0, length >= 0 ? length : undefined).toString('utf8');
      clearTimeout(timer);
      socket.destroy();
      resolve({
        status,
        contentType: /\r\ncontent-type:\s*([^\r]*)/i.exec(head)?.[1] ?? '',
        text: bodyText,
        body: parse(bodyText),
        retryAfter: /\r\nretry-after:\s*([^\r]*)/i.exec(head)?.[1] ?? null,
      });
      return undefined;
    };
    const fail = () => {
      clearTimeout(timer);
      reject(new Error(`connection closed without a response: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`));
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('error', () => tryParse(true));
    socket.on('connect', () => {
      socket.write(bytes);
      if (options.halfClose) socket.end();
    });
  });
}

const port = () => Number(new URL(stack.fn.url).port);
const httpRequest = (head: string, body: Buffer | string = '') =>
  Buffer.concat([Buffer.from(head.replace(/\n/g, '\r\n') + '\r\n', 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]);

/** What every answer must satisfy: JSON, the contract's error shape, nothing internal leaked. */
function expectContractAnswer(answer: Answer, context: string): void {
  const where = `${context} → ${answer.status} ${answer.text.slice(0, 300)}`;
  if (answer.status >= 500 || answer.status < 200) throw new Error(`server error: ${where}`);
  if (!answer.contentType.startsWith('application/json')) throw new Error(`not JSON (${answer.contentType}): ${where}`);
  if (!answer.body) throw new Error(`unparseable JSON: ${where}`);
  if (answer.status >= 400) {
    if (answer.body.status !== 'error' || typeof answer.body.message !== 'string') throw new Error(`bad error shape: ${where}`);
    if (answer.status === 400 && (typeof answer.body.field !== 'string' || answer.body.field === ''))
      throw new Error(`400 without a field: ${where}`);
    if (answer.status === 429 && !answer.retryAfter) throw new Error(`429 without Retry-After: ${where}`);
  }
  if (/\bat .+:\d+:\d+|node_modules|\/work\/|file:\/\//.test(answer.text)) throw new Error(`internal detail leaked: ${where}`);
}

const KEY = () => stack.apiKey;
const deep = (depth: number, leaf: string) => '['.repeat(depth) + leaf + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('named attacks: 4xx JSON, never 5xx, nothing queued', () => {
  // Each: a raw body (string or bytes), optional headers, the expected status and field.
  const cases: [string, () => string | Uint8Array, Record<string, string>, number, string | undefined][] = [
    ['body is an array', () => '[1,2,3]', {}, 400, 'body'],
    ['body is a number', () => '42', {}, 400, 'body'],
    ['body is null', () => 'null', {}, 400, 'body'],
    ['body is a string', () => '"phone"', {}, 400, 'body'],
    ['body is true', () => 'true', {}, 400, 'body'],
    ['empty body', () => '', {}, 400, 'body'],
    ['whitespace body', () => ' \r\n\t ', {}, 400, 'body'],
    ['body nested 10k deep (array)', () => deep(10_000, '1'), {}, 400, 'body'],
    ['phone nested 10k deep', () => `{"phone":${deep(10_000, '"919876543210"')},"message":"x"}`, {}, 400, 'phone'],
    ['message nested 10k deep in objects', () => `{"phone":"919876543210","message":${deepObject(10_000)}}`, {}, 400, 'message'],
    ['as deep as 256 KiB allows', () => deep(130_000, '1'), {}, 400, 'body'],
    [
      'a message of 256 KiB of emoji (over the cap)',
      () => JSON.stringify({ phone: '919876543210', message: '😀'.repeat(65_536) }),
      {},
      413,
      'body',
    ],
    [
      'a message of 240 KiB of emoji (under the cap, over 4096 code points)',
      () => JSON.stringify({ phone: '919876543210', message: '🧨'.repeat(61_000) }),
      {},
      400,
      'message',
    ],
    [
      'emoji with ZWJ sequences over 4096 code points',
      () => JSON.stringify({ phone: '919876543210', message: '👩‍👩‍👧‍👦'.repeat(600) }),
      {},
      400,
      'message',
    ],
    ['recipient hidden in __proto__', () => '{"__proto__":{"phone":"919876543210","message":"x"}}', {}, 400, 'recipient'],
    ['recipient hidden in constructor.prototype', () => '{"constructor":{"prototype":{"self":true}},"message":"x"}', {}, 400, 'recipient'],
    [
      '__proto__ with a valid message but no recipient',
      () => '{"message":"x","__proto__":{"self":true,"toString":1}}',
      {},
      400,
      'recipient',
    ],
    ['self as the string "true"', () => '{"self":"true","message":"x"}', {}, 400, 'self'],
    [
      'wait_for_delivery as the string "false"',
      () => '{"self":true,"message":"x","wait_for_delivery":"false"}',
      {},
      400,
      'wait_for_delivery',
    ],
    ['message as a number', () => '{"self":true,"message":12345}', {}, 400, 'message'],
    ['phones as a string of digits', () => '{"phones":"919876543210","message":"x"}', {}, 400, 'phones'],
    ['phone as 1e308', () => '{"phone":1e308,"message":"x"}', {}, 400, 'phone'],
    ['phone as 12345678901234567890', () => '{"phone":12345678901234567890,"message":"x"}', {}, 400, 'phone'],
    ['phone as -0', () => '{"phone":-0,"message":"x"}', {}, 400, 'phone'],
    ['phone as 1e-7', () => '{"phone":1e-7,"message":"x"}', {}, 400, 'phone'],
    ['phone as an object', () => '{"phone":{"digits":"919876543210"},"message":"x"}', {}, 400, 'phone'],
    ['phone with a NUL byte', () => '{"phone":"91987654\\u00003210","message":"x"}', {}, 400, 'phone'],
    ['phone with Arabic-Indic digits', () => JSON.stringify({ phone: '٩١٩٨٧٦٥٤٣٢١٠', message: 'x' }), {}, 400, 'phone'],
    ['phone with fullwidth digits', () => JSON.stringify({ phone: '９１９８７６５４３２１０', message: 'x' }), {}, 400, 'phone'],
    [
      '100k phones (over the 256 KiB cap)',
      () => JSON.stringify({ phones: Array.from({ length: 100_000 }, (_, i) => String(919800000000 + i)), message: 'x' }),
      {},
      413,
      'body',
    ],
    ['100k tiny phones under the cap', () => `{"phones":[${Array(100_000).fill('1').join(',')}],"message":"x"}`, {}, 400, 'phones'],
    [
      '101 valid phones',
      () => JSON.stringify({ phones: Array.from({ length: 101 }, (_, i) => String(919800000000 + i)), message: 'x' }),
      {},
      400,
      'phones',
    ],
    ['phones with a nested array', () => '{"phones":["919876543210",["919876543211"]],"message":"x"}', {}, 400, 'phones[1]'],
    ['duplicate keys: the last (bad) phone wins', () => '{"phone":"919876543210","phone":"not-a-phone","message":"x"}', {}, 400, 'phone'],
    ['duplicate keys: a bad last message wins', () => '{"self":true,"message":"ok","message":{}}', {}, 400, 'message'],
    [
      'invalid UTF-8 in a string',
      () => Buffer.concat([Buffer.from('{"self":true,"message":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
      {},
      400,
      'body',
    ],
    [
      'overlong UTF-8 encoding of "/"',
      () => Buffer.concat([Buffer.from('{"self":true,"message":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
      {},
      400,
      'body',
    ],
    [
      'UTF-8 encoded lone surrogate',
      () => Buffer.concat([Buffer.from('{"self":true,"message":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      {},
      400,
      'body',
    ],
    ['UTF-16 body', () => Buffer.from('\ufeff{"self":true,"message":"x"}', 'utf16le'), {}, 400, 'body'],
    ['form-encoded body', () => 'self=true&message=x', { 'Content-Type': 'application/x-www-form-urlencoded' }, 400, 'body'],
    [
      'multipart body',
      () => '--b\r\nContent-Disposition: form-data; name="self"\r\n\r\ntrue\r\n--b--\r\n',
      { 'Content-Type': 'multipart/form-data; boundary=b' },
      400,
      'body',
    ],
    ['XML body', () => '<notify><self>true</self></notify>', { 'Content-Type': 'application/xml' }, 400, 'body'],
    ['JSON with trailing garbage', () => '{"self":true,"message":"x"} {"self":true}', {}, 400, 'body'],
    ['JSON with a comment', () => '{"self":true, /* hi */ "message":"x"}', {}, 400, 'body'],
    ['NaN and Infinity', () => '{"phone":NaN,"message":Infinity}', {}, 400, 'body'],
    ['a key in the body of the wrong type', () => '{"apikey":{"$ne":""},"self":true,"message":"x"}', {}, 400, 'apikey'],
    ['a traversal path as image_path', () => '{"self":true,"image_path":"/../../etc/passwd"}', {}, 400, 'image_path'],
    ['a NUL byte in document_path', () => '{"self":true,"document_path":"/tmp/a\\u0000.pdf"}', {}, 400, 'document_path'],
    [
      'filename with a path separator',
      () => '{"self":true,"message":"x","document_path":"/nope.pdf","filename":"../x"}',
      {},
      400,
      'filename',
    ],
  ];

  let before = 0;
  beforeAll(async () => {
    before = await queueRows();
  });

  test.each(cases)('%s', async (name, body, headers, status, field) => {
    const answer = await post(body(), headers);
    expectContractAnswer(answer, name);
    expect(answer.status).toBe(status);
    if (field !== undefined) expect(answer.body?.field).toBe(field);
  });

  test('attachment paths are never echoed to the client', async () => {
    const secretPath = '/srv/private/payroll-2026/salaries.pdf';
    for (const field of ['image_path', 'document_path']) {
      const answer = await post(JSON.stringify({ self: true, [field]: secretPath }));
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({
        status: 'error',
        message: `${field} is not allowed`,
        field,
        hint: expect.stringContaining('absolute path of a regular file inside one of the folders listed in WHATSAPP_ATTACHMENT_ROOTS'),
      });
      expect(answer.text).not.toContain('payroll');
    }
  });

  test('a chunked body without Content-Length is read and judged like any other', async () => {
    const chunked = (parts: string[]) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
          controller.close();
        },
      });
    const send = async (parts: string[]) => {
      const res = await fetch(`${stack.fn.url}${NOTIFY_PATH}`, {
        method: 'POST',
        headers: { 'X-API-KEY': KEY() },
        body: chunked(parts),
        duplex: 'half',
      } as RequestInit & { duplex: 'half' });
      const text = await res.text();
      return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, body: parse(text) };
    };
    const bad = await send(['{"self":', '"yes","mess', 'age":"x"}']);
    expectContractAnswer(bad, 'chunked bad');
    expect(bad.body?.field).toBe('self');
    const huge = await send(Array.from({ length: 64 }, (_, i) => (i === 0 ? '{"self":true,"message":"' : 'x'.repeat(16 * 1024))));
    expectContractAnswer(huge, 'chunked huge');
    expect(huge.status).toBe(413);
  });

  test('an endless chunked body is cut off at the cap with 413, not read forever', async () => {
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 64 * 1024 * 1024) return controller.close(); // a bound for the test itself
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const res = await fetch(`${stack.fn.url}${NOTIFY_PATH}`, {
      method: 'POST',
      headers: { 'X-API-KEY': KEY() },
      body: endless,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' }).catch((error: unknown) => error as Error);
    // The server answers 413 and closes; fetch may report the answer or, if the close wins the race
    // against the upload, a reset. Either way the server stopped reading long before 64 MiB.
    if (res instanceof Response) {
      expect(res.status).toBe(413);
      expect(parse(await res.text())?.status).toBe('error');
    }
    expect(sent).toBeLessThan(16 * 1024 * 1024);
  });

  test('a Content-Length shorter than the body: the declared bytes are judged, the rest refused as JSON', async () => {
    const body = '{"self":true,"message":"hello"}';
    const answer = await rawExchange(
      port(),
      httpRequest(`POST ${NOTIFY_PATH} HTTP/1.1\nHost: x\nX-API-KEY: ${KEY()}\nContent-Type: application/json\nContent-Length: 10\n`, body),
    );
    expectContractAnswer(answer, 'short content-length');
    expect(answer.status).toBe(400);
    expect(answer.body?.field).toBe('body');
  });

  test('a Content-Length longer than the body, then the client gives up: 400 JSON, no 500', async () => {
    const answer = await rawExchange(
      port(),
      httpRequest(`POST ${NOTIFY_PATH} HTTP/1.1\nHost: x\nX-API-KEY: ${KEY()}\nContent-Length: 5000\n`, '{"self":true,"message":"x"}'),
      { halfClose: true },
    );
    expectContractAnswer(answer, 'long content-length, half-closed');
    expect(answer.status).toBe(400);
  });

  test.each([
    [
      'a body shorter than its Content-Length',
      (key: string) => httpRequest(`POST ${NOTIFY_PATH} HTTP/1.1\nHost: x\nX-API-KEY: ${key}\nContent-Length: 5000\n`, '{"self":true}'),
    ],
    ['headers that never end', (key: string) => Buffer.from(`POST ${NOTIFY_PATH} HTTP/1.1\r\nHost: x\r\nX-API-KEY: ${key}\r\n`)],
  ])('slow loris (%s): 408 JSON once the request timeout passes, nothing queued', async (_name, bytes) => {
    // Its own local host over the same function services, with a short timeout (default 30 s).
    const host = await startLocalHost({
      routes: functionRoutes(stack.fn.services.handlers),
      port: 0,
      log: stack.fn.services.log,
      requestTimeoutMs: 1_500,
    });
    try {
      const started = Date.now();
      const answer = await rawExchange(host.port, bytes(KEY()), { timeoutMs: 8_000 });
      expectContractAnswer(answer, 'stalled request');
      expect(answer.status).toBe(408);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await host.close();
    }
  });

  test('a Content-Length over the cap is refused before the body is read', async () => {
    const answer = await rawExchange(
      port(),
      httpRequest(`POST ${NOTIFY_PATH} HTTP/1.1\nHost: x\nX-API-KEY: ${KEY()}\nContent-Length: 99999999999\n`, '{'),
    );
    expectContractAnswer(answer, 'huge content-length');
    expect(answer.status).toBe(413);
  });

  test.each([
    ['a negative Content-Length', 'Content-Length: -5\n'],
    ['a non-numeric Content-Length', 'Content-Length: lots\n'],
    ['two different Content-Lengths', 'Content-Length: 3\nContent-Length: 30\n'],
    ['Content-Length with Transfer-Encoding', 'Content-Length: 3\nTransfer-Encoding: chunked\n'],
    ['a bad chunk size', 'Transfer-Encoding: chunked\n'],
  ])('malformed framing (%s) is refused with JSON 400', async (_name, framing) => {
    const answer = await rawExchange(
      port(),
      httpRequest(`POST ${NOTIFY_PATH} HTTP/1.1\nHost: x\nX-API-KEY: ${KEY()}\n${framing}`, 'zz\r\n{}\r\n0\r\n\r\n'),
    );
    expectContractAnswer(answer, 'malformed framing');
    expect(answer.status).toBe(400);
  });

  test('none of the refused bodies reached the queue', async () => {
    expect(await queueRows()).toBe(before);
  });
});

describe('prototype pollution', () => {
  test('__proto__ in a body pollutes nothing (the function host runs in this process)', async () => {
    await post('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"self":true,"message":"x"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

// ── generated bodies ────────────────────────────────────────────────────────────────────────────

// Possible numbers (contract v1.1): Indian numbers (91 + 10 digits) as text and as integers;
// any digit run now and then, which is often not possible for its code (a 400 naming the field).
const validPhone = fc.oneof(
  fc.bigInt({ min: 916_000_000_000n, max: 919_999_999_999n }).map((n) => n.toString()),
  fc.integer({ min: 916_000_000_000, max: 919_999_999_999 }),
  fc.bigInt({ min: 1_000_000n, max: 999_999_999_999_999n }).map((n) => n.toString()),
  fc.constantFrom('+91 (98765) 43-210', '44.7700.900123', '+1-202-555-0143'),
);
const hostileScalar = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '__proto__',
    'constructor',
    'true',
    'null',
    '1e308',
    '12345678901234567890',
    '/etc/passwd',
    '..\\..\\x',
    '😀'.repeat(5),
  ),
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => Number(n)),
  fc.boolean(),
  fc.constant(null),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const anyJson = fc.oneof(
  hostileScalar,
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(hostileScalar, { maxLength: 8 }),
  fc.dictionary(fc.string({ maxLength: 8 }), hostileScalar, { maxKeys: 5 }),
);
/** Mostly the right type (valid or not), sometimes anything at all. */
const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 3 }, { arbitrary: anyJson, weight: 1 });

/** Usually absent; when present, usually the right type. */
const sometimes = <T>(good: fc.Arbitrary<T>, absentWeight = 5) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: absentWeight }, { arbitrary: field(good), weight: 1 });

// Exactly one recipient form most of the time (so many bodies are valid), else none or several.
const recipientForm = fc.oneof(
  { weight: 3, arbitrary: fc.record({ self: field(fc.constant(true)) }) },
  { weight: 1, arbitrary: fc.record({ username: field(fc.string({ minLength: 1, maxLength: 70 })) }) },
  { weight: 4, arbitrary: fc.record({ phone: field(validPhone) }) },
  { weight: 3, arbitrary: fc.record({ phones: field(fc.array(field(validPhone), { minLength: 1, maxLength: 12 })) }) },
  { weight: 1, arbitrary: fc.record({ self: anyJson, phone: field(validPhone), phones: anyJson }, { requiredKeys: [] }) },
);

const contractBody = fc
  .tuple(
    recipientForm,
    fc.record({
      apikey: fc.constant('__KEY__'),
      message: fc.oneof(
        { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 60 }).filter((m) => m.trim() !== '') },
        { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
        { weight: 1, arbitrary: anyJson },
        { weight: 1, arbitrary: fc.constantFrom(undefined, ' \n ') },
      ),
      image_path: sometimes(
        fc.constantFrom(
          '/etc/shadow',
          '/root/.ssh/id_rsa',
          'relative.png',
          '/srv/x/../../etc/hosts',
          'C:\\Windows\\win.ini',
          '/tmp/nope.png',
        ),
        12,
      ),
      document_path: sometimes(
        fc.constantFrom('/proc/self/environ', '/var/log/syslog', '/srv/private/report.pdf', '\\\\server\\share\\a.pdf'),
        12,
      ),
      caption: sometimes(fc.string({ maxLength: 40 }), 12),
      filename: sometimes(fc.string({ maxLength: 40 }), 12),
      wait_for_delivery: sometimes(fc.boolean(), 2),
      idempotency_key: sometimes(fc.string({ maxLength: 20 })),
      constructor: sometimes(anyJson),
      extra: sometimes(anyJson, 2),
    }),
  )
  .map(([recipient, rest]) => ({ ...rest, ...recipient }));

/** One generated request: a raw body plus a Content-Type. */
interface Case {
  body: string | Uint8Array;
  contentType: string;
  keyInBody: boolean;
}

const contentType = fc.constantFrom(
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  '',
  'image/png',
);

const toCase = (value: unknown, keyInBody: boolean, type: string, proto?: unknown): Case => {
  let text =
    JSON.stringify(value, (k, v: unknown) => (k === 'apikey' && v === '__KEY__' ? (keyInBody ? stack.apiKey : undefined) : v)) ?? '';
  // An own "__proto__" key is written into the text: an object literal would set the prototype instead.
  if (proto !== undefined && text.startsWith('{'))
    text = `{"__proto__":${JSON.stringify(proto)}${text === '{}' ? '' : ','}${text.slice(1)}`;
  return { body: text, contentType: type, keyInBody };
};
const protoPayload = fc.option(fc.dictionary(fc.constantFrom('self', 'phone', 'message', 'apikey', 'polluted'), hostileScalar), {
  freq: 4,
});

const generatedCase: fc.Arbitrary<Case> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.tuple(contractBody, fc.boolean(), contentType, protoPayload).map(([b, k, t, p]) => toCase(b, k, t, p ?? undefined)),
  },
  { weight: 1, arbitrary: fc.tuple(anyJson, contentType).map(([b, t]) => toCase(b, false, t)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'binary', maxLength: 200 }), contentType)
      .map(([s, t]) => ({ body: s, contentType: t, keyInBody: false })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.uint8Array({ maxLength: 200 }), contentType).map(([b, t]) => ({ body: b, contentType: t, keyInBody: false })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 5_000 }), fc.constantFrom('[', '{"phone":', '{"a":'), contentType)
      .map(([depth, open, t]) => {
        const close = open === '[' ? ']' : '}';
        return { body: open.repeat(depth) + '1' + close.repeat(depth), contentType: t, keyInBody: false };
      }),
  },
  {
    weight: 1,
    // Small edits of a valid body: truncation and byte flips give near-miss JSON and bad UTF-8.
    arbitrary: fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([at, byte, truncate]) => {
      const valid = Buffer.from(JSON.stringify({ phones: ['919876543210', '+44 7700 900123'], message: 'héllo 😀', caption: null }));
      const i = at % valid.length;
      const bytes = truncate ? valid.subarray(0, i) : Buffer.from(valid);
      if (!truncate) bytes[i] = byte;
      return { body: new Uint8Array(bytes), contentType: 'application/json', keyInBody: false };
    }),
  },
);

describe('fuzz', () => {
  const BATCH = 16;
  const RUNS = 640; // 640 batches × 16 = 10,240 bodies
  const statuses = new Map<number, number>();
  let requests = 0;

  test(`${BATCH * RUNS} generated bodies: no 5xx, JSON everywhere, every 400 names a field`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(generatedCase, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(
          batch.map(async (c) => {
            const answer = await post(c.body, c.contentType === '' ? {} : { 'Content-Type': c.contentType });
            requests++;
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            const shown = typeof c.body === 'string' ? c.body.slice(0, 300) : `bytes ${Buffer.from(c.body).toString('hex').slice(0, 300)}`;
            expectContractAnswer(answer, `${shown} [${c.contentType}]`);
            // The key is valid and the limits are high here: only these may come back.
            if (![200, 400, 404, 413].includes(answer.status)) throw new Error(`unexpected ${answer.status}: ${shown} → ${answer.text}`);
            for (const secret of ['/etc/shadow', '/root/.ssh', '/srv/private', '/proc/self', 'win.ini', 'syslog']) {
              if (answer.text.includes(secret)) throw new Error(`attachment path echoed: ${shown} → ${answer.text}`);
            }
          }),
        );
      }),
      { numRuns: RUNS, seed, endOnFailure: true },
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `fuzz: ${requests} requests in ${seconds.toFixed(1)} s (seed ${seed}); statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(requests).toBeGreaterThanOrEqual(10_000);
    // A generator that only ever produced one kind of answer would be testing nothing.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(1_000);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(1_000); // deferred: the sidecar is not paired
  }, 180_000);

  test('the function host and the sidecar are still healthy afterwards', async () => {
    expect((await fetch(`${stack.sidecar.url}/healthz`)).status).toBe(200);
    const ok = await post(JSON.stringify({ self: true, message: 'still alive' }));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'success', deferred: true });
  });
});
