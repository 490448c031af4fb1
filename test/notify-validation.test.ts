/**
 * The contract's request rules over real HTTP, against the real function handler, a real sidecar
 * process (unpaired: WhatsApp is offline here) and a real Azurite.
 */
import WebSocket from 'ws';
import { startStack, type Stack } from './support/stack.js';
import { createNotificationQueue } from '../shared/notification-queue.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ name: 'notify-validation' });
});
afterAll(async () => {
  await stack.dispose();
});

const withKey = (body: Record<string, unknown>) => ({ apikey: stack.apiKey, ...body });

describe('authentication comes first', () => {
  test.each([
    ['no key at all', { phone: '919876543210', message: 'hi' }, {}],
    ['an unknown key', { apikey: 'wan_nope', phone: '919876543210', message: 'hi' }, {}],
    ['an empty key', { apikey: '', phone: '919876543210', message: 'hi' }, {}],
    ['a non-string key', { apikey: 42, phone: '919876543210', message: 'hi' }, {}],
    ['an invalid body without a key', undefined, {}],
  ])('%s → 401', async (_name, body, headers) => {
    const res = await stack.notify(body, { headers, ...(body === undefined ? { raw: '{not json' } : {}) });
    expect(res.status).toBe(401);
    // v1.1: when the body could not carry a key, the message says why none was read.
    const why = body === undefined ? ' (the body is not JSON; send a JSON object or the X-API-KEY header)' : '';
    expect(res.body).toEqual({ status: 'error', message: `Invalid or missing API key${why}` });
  });

  test('an invalid body with a bad key is 401, not 400 (no validation before auth)', async () => {
    const res = await stack.notify({ apikey: 'wrong', phones: 'not-an-array' });
    expect(res.status).toBe(401);
  });

  test('the key is accepted from X-API-KEY when the body has none', async () => {
    const res = await stack.notify({ phone: '919876543210', message: 'hi' }, { headers: { 'X-API-KEY': stack.apiKey } });
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
  });

  test('a revoked key is refused', async () => {
    const { createApiKeyStore } = await import('../shared/api-keys.js');
    const store = createApiKeyStore(stack.tables, stack.env.WHATSAPP_API_KEY_PEPPER!);
    const { key } = await store.create('short-lived');
    await store.revoke('short-lived');
    expect((await stack.notify({ apikey: key, phone: '919876543210', message: 'x' })).status).toBe(401);
  });
});

describe('body rules → 400 naming the field', () => {
  test.each<[string, unknown, string]>([
    ['no recipient', { message: 'hi' }, 'recipient'],
    ['two recipient forms', { self: true, phone: '919876543210', message: 'hi' }, 'recipient'],
    ['phone and phones', { phone: '919876543210', phones: ['919876543211'], message: 'hi' }, 'recipient'],
    ['self false alone counts as absent', { self: false, message: 'hi' }, 'recipient'],
    ['self not a boolean', { self: 'yes', message: 'hi' }, 'self'],
    ['no message and no attachment', { phone: '919876543210' }, 'message'],
    ['whitespace-only message', { phone: '919876543210', message: ' \n\t ' }, 'message'],
    ['message not a string', { phone: '919876543210', message: 5 }, 'message'],
    ['message over 4096 code points', { phone: '919876543210', message: '😀'.repeat(4097) }, 'message'],
    ['phone with letters', { phone: '91987654321x', message: 'hi' }, 'phone'],
    ['phone too short', { phone: '123456', message: 'hi' }, 'phone'],
    ['phone too long', { phone: '1234567890123456', message: 'hi' }, 'phone'],
    ['phone with leading zero', { phone: '0919876543210', message: 'hi' }, 'phone'],
    ['phone plus in the middle', { phone: '91+9876543210', message: 'hi' }, 'phone'],
    ['phone negative integer', { phone: -919876543210, message: 'hi' }, 'phone'],
    ['phone fractional', { phone: 91987654321.5, message: 'hi' }, 'phone'],
    ['phone boolean', { phone: true, message: 'hi' }, 'phone'],
    ['phones not an array', { phones: '919876543210', message: 'hi' }, 'phones'],
    ['phones empty', { phones: [], message: 'hi' }, 'phones'],
    ['phones over 100 entries', { phones: Array.from({ length: 101 }, (_, i) => String(919800000000 + i)), message: 'hi' }, 'phones'],
    ['a bad entry in phones', { phones: ['919876543210', '919876543211', 'abc'], message: 'hi' }, 'phones[2]'],
    ['username empty', { username: '', message: 'hi' }, 'username'],
    ['username over 64 chars', { username: 'u'.repeat(65), message: 'hi' }, 'username'],
    ['caption without attachment', { phone: '919876543210', message: 'hi', caption: 'c' }, 'caption'],
    ['filename without document', { phone: '919876543210', message: 'hi', filename: 'a.pdf' }, 'filename'],
    ['wait_for_delivery not a boolean', { phone: '919876543210', message: 'hi', wait_for_delivery: 'true' }, 'wait_for_delivery'],
    ['body is an array', [1, 2], 'body'],
    ['body is a string', 'hello', 'body'],
  ])('%s', async (_name, body, field) => {
    const res = await stack.notify(Array.isArray(body) || typeof body !== 'object' ? body : withKey(body as Record<string, unknown>), {
      headers: { 'X-API-KEY': stack.apiKey },
    });
    expect(res.status).toBe(400);
    expect(res.body.status).toBe('error');
    expect(res.body.field).toBe(field);
    expect(String(res.body.message)).toContain(field === 'recipient' ? 'self, username, phone or phones' : field);
  });

  test('invalid JSON with a valid key is a 400 naming the body', async () => {
    const res = await stack.notify(undefined, { raw: '{"message": ', headers: { 'X-API-KEY': stack.apiKey } });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('body');
  });

  test('the body is read as JSON whatever the Content-Type says', async () => {
    const res = await stack.notify(undefined, {
      raw: JSON.stringify(withKey({ phone: '919876543210', message: 'hi' })),
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
  });

  test('bodies over 256 KiB get 413', async () => {
    const res = await stack.notify(withKey({ phone: '919876543210', message: 'x'.repeat(300 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.status).toBe('error');
  });

  test('exactly 4096 code points of emoji is accepted', async () => {
    const res = await stack.notify(withKey({ phone: '919876543210', message: '😀'.repeat(4096) }));
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
  });

  test('unknown fields are ignored and null means absent', async () => {
    const res = await stack.notify(withKey({ phone: '919876543210', message: 'hi', extra: { deep: true }, username: null, caption: null }));
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
  });
});

describe('recipients', () => {
  test('phone numbers are normalised; integers are read as digits', async () => {
    const res = await stack.notify(withKey({ phones: ['+91 (98765) 43-210', 919876543211, '91.9876.543212'], message: 'hi' }));
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
    const n = await createNotificationQueue(stack.tables).get(String(res.body.id));
    expect(n?.recipients.map((r) => r.to)).toEqual([
      '919876543210@s.whatsapp.net',
      '919876543211@s.whatsapp.net',
      '919876543212@s.whatsapp.net',
    ]);
  });

  test('duplicates collapse after normalising; the first 5 distinct are sent, the rest counted in skipped', async () => {
    const phones = [
      '919876543210',
      '+91 98765 43210',
      '919876543211',
      '919876543212',
      '919876543213',
      '919876543214',
      '919876543215',
      '919876543216',
    ];
    const res = await stack.notify(withKey({ phones, message: 'hi' }));
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
    expect(res.body).toMatchObject({ queued: 5, skipped: 2, deferred: true });
    const n = await createNotificationQueue(stack.tables).get(String(res.body.id));
    expect(n?.recipients.map((r) => r.to.slice(0, 12))).toEqual([
      '919876543210',
      '919876543211',
      '919876543212',
      '919876543213',
      '919876543214',
    ]);
  });

  test('an unknown username is 404', async () => {
    const res = await stack.notify(withKey({ username: 'nobody', message: 'hi' }));
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ status: 'error', message: 'Username not found or not linked to WhatsApp' });
  });

  test('a linked username resolves to its phone', async () => {
    await stack.linkUser('trader1', '447700900123');
    const res = await stack.notify(withKey({ username: 'trader1', message: 'hi' }));
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
    const n = await createNotificationQueue(stack.tables).get(String(res.body.id));
    expect(n?.recipients[0]?.to).toBe('447700900123@s.whatsapp.net');
  });
});

describe('offline', () => {
  test('an unpaired sidecar answers 200 deferred in both modes (v1.1), and the notification is durable', async () => {
    for (const wait of [false, true]) {
      const res = await stack.notify(withKey({ self: true, message: 'hi', wait_for_delivery: wait }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        status: 'success',
        message: 'WhatsApp is offline; queued for 1 recipient(s) until it reconnects',
        queued: 1,
        skipped: 0,
        deferred: true,
        // wait_for_delivery is answered at once, every recipient pending (`self`: the number is not known yet).
        ...(wait ? { data: { sent: [], failed: [], skipped: 0, pending: ['self'] } } : {}),
        id: expect.stringMatching(/^q\d{15}-[0-9a-f]{16}$/),
      });
      const n = await createNotificationQueue(stack.tables).get(String(res.body.id));
      expect(n?.recipients).toEqual([expect.objectContaining({ to: 'self', state: 'queued' })]);
    }
  });

  test('with the sidecar down, the function queues it itself and answers 200 deferred', async () => {
    await stack.sidecar.stop();
    try {
      const res = await stack.notify(withKey({ phone: '919876543210', message: 'while the sidecar is down' }));
      expect(res.status).toBe(200);
      expect(res.body.deferred).toBe(true);
      const waited = await stack.notify(
        withKey({ phones: ['919876543210', '447700900123'], message: 'waiting, sidecar down', wait_for_delivery: true }),
      );
      expect(waited.status).toBe(200);
      expect(waited.body).toMatchObject({
        status: 'success',
        deferred: true,
        queued: 2,
        data: { sent: [], failed: [], skipped: 0, pending: ['919876543210@s.whatsapp.net', '447700900123@s.whatsapp.net'] },
      });
      const n = await createNotificationQueue(stack.tables).get(String(res.body.id));
      expect(n?.content.message).toBe('while the sidecar is down');
    } finally {
      await stack.sidecar.start();
    }
  });

  test('WHATSAPP_OFFLINE_POLICY=reject answers 409 and queues nothing', async () => {
    const strict = await stack.startFunctionInstance({ WHATSAPP_OFFLINE_POLICY: 'reject' });
    try {
      const res = await stack.notify(withKey({ phone: '919876543210', message: 'hi' }), { url: strict.url });
      expect(res.status).toBe(409);
      expect(res.body.status).toBe('error');
    } finally {
      await strict.close();
    }
  });
});

describe('status lookup', () => {
  test('GET /notify/{id} answers the sender only', async () => {
    const sent = await stack.notify(withKey({ phone: '919876543210', message: 'hi' }));
    const id = String(sent.body.id);
    const mine = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${id}`, { headers: { 'X-API-KEY': stack.apiKey } });
    expect(mine.status).toBe(200);
    const body = (await mine.json()) as { data: { id: string; recipients: { to: string; state: string }[] } };
    expect(body.data.id).toBe(id);
    // Phone digits, the form requests use (the POST answers' sent/failed keep the contract's JIDs).
    expect(body.data.recipients).toEqual([expect.objectContaining({ to: '919876543210', state: 'queued' })]);

    const { createApiKeyStore } = await import('../shared/api-keys.js');
    const { key: other } = await createApiKeyStore(stack.tables, stack.env.WHATSAPP_API_KEY_PEPPER!).create('other');
    const theirs = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${id}`, { headers: { 'X-API-KEY': other } });
    expect(theirs.status).toBe(404);
    const unknown = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/q202601010000-0000000000000000`, {
      headers: { 'X-API-KEY': stack.apiKey },
    });
    expect(unknown.status).toBe(404);
  });
});

describe('the sidecar WebSocket', () => {
  const connect = (headers: Record<string, string>, protocol = 'wa-notify.v1') =>
    new Promise<{ opened: boolean; status?: number }>((resolve) => {
      const ws = new WebSocket(stack.env.WHATSAPP_SIDECAR_URL!, protocol, { headers });
      ws.once('open', () => {
        ws.close();
        resolve({ opened: true });
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve({ opened: false, status: res.statusCode });
        ws.terminate();
      });
      ws.once('error', () => resolve({ opened: false }));
    });

  test('refuses a missing or wrong token with 401 before any frame', async () => {
    expect(await connect({})).toEqual({ opened: false, status: 401 });
    expect(await connect({ Authorization: 'Bearer wrong' })).toEqual({ opened: false, status: 401 });
    expect(await connect({ Authorization: `Bearer ${stack.env.WHATSAPP_SIDECAR_TOKEN}` })).toEqual({ opened: true });
  });

  test('refuses a client that does not speak the protocol version', async () => {
    expect(await connect({ Authorization: `Bearer ${stack.env.WHATSAPP_SIDECAR_TOKEN}` }, 'wa-notify.v0')).toEqual({
      opened: false,
      status: 400,
    });
  });
});
