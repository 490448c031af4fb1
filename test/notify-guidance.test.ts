/**
 * Issue 14, against the real function host and sidecar: phone numbers must be possible for their
 * country code (contract v1.1) in the API and the admin forms, with WHATSAPP_DEFAULT_COUNTRY; and
 * errors that say what to do — the 401 for a body that could not carry a key, 405 on GET, 404
 * naming the routes.
 */
import { loadConfig } from '../shared/config.js';
import { createNotificationQueue } from '../shared/notification-queue.js';
import { startStack, type FunctionInstance, type Stack } from './support/stack.js';

let stack: Stack;
let india: FunctionInstance;

beforeAll(async () => {
  stack = await startStack({ name: 'notify-guidance' });
  india = await stack.startFunctionInstance({ WHATSAPP_DEFAULT_COUNTRY: 'IN' });
}, 60_000);
afterAll(async () => {
  await india?.close();
  await stack?.dispose();
});

const withKey = (body: Record<string, unknown>) => ({ apikey: stack.apiKey, ...body });
// Accepted and queued: 200, deferred or not (contract v1.1).
const ACCEPTED = [200];

describe('phone numbers must be possible for their country code', () => {
  test('an Indian mobile without its 91 is refused, not sent to Iran; the message shows the expected form', async () => {
    const res = await stack.notify(withKey({ phone: '9876543210', message: 'hi' }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      status: 'error',
      field: 'phone',
      message: 'phone 9876543210 is not a possible number for +98 (IR); include the country code, e.g. 919876543210',
    });
  });

  test('an entry of phones is named by its index; separators are removed before the check', async () => {
    const res = await stack.notify(withKey({ phones: ['919876543210', '+44 7700 900123', '98-7654-3210'], message: 'hi' }));
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('phones[2]');
    expect(res.body.message).toBe(
      'phones[2] 9876543210 is not a possible number for +98 (IR); include the country code, e.g. 919876543210',
    );
  });

  test('a shared code names its main country, an unknown code says so; integers are checked the same', async () => {
    const us = await stack.notify(withKey({ phone: 1555000123, message: 'hi' }));
    expect(us.status).toBe(400);
    expect(us.body.message).toBe('phone 1555000123 is not a possible number for +1 (US); include the country code, e.g. 919876543210');
    const unknown = await stack.notify(withKey({ phone: '+999 1234 5678', message: 'hi' }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe(
      'phone 99912345678 does not start with a known country code; include the country code, e.g. 919876543210',
    );
  });

  test('the old rules still hold: 7–15 digits, no leading 0, an integer is read as its digits', async () => {
    const zero = await stack.notify(withKey({ phone: '0919876543210', message: 'hi' }));
    expect(zero.body).toMatchObject({ field: 'phone', message: 'phone must start with the country code, not 0' });
    const short = await stack.notify(withKey({ phone: '+91 12', message: 'hi' }));
    expect(short.body).toMatchObject({ field: 'phone', message: 'phone must have 7 to 15 digits including the country code' });
    const ok = await stack.notify(withKey({ phones: [919876543210, '+1 (202) 555-0143', '44.7700.900123'], message: 'hi' }));
    expect(ACCEPTED).toContain(ok.status);
    const n = await createNotificationQueue(stack.tables).get(String(ok.body.id));
    expect(n?.recipients.map((r) => r.to)).toEqual([
      '919876543210@s.whatsapp.net',
      '12025550143@s.whatsapp.net',
      '447700900123@s.whatsapp.net',
    ]);
  });

  test('WHATSAPP_DEFAULT_COUNTRY=IN: a valid Indian national number gets 91; a number possible as written is kept', async () => {
    const res = await stack.notify(withKey({ phones: ['98765 43210', '447700900123'], message: 'hi' }), { url: india.url });
    expect(ACCEPTED).toContain(res.status);
    const n = await createNotificationQueue(stack.tables).get(String(res.body.id));
    expect(n?.recipients.map((r) => r.to)).toEqual(['919876543210@s.whatsapp.net', '447700900123@s.whatsapp.net']);
    // Neither possible as written (+1 with 6 digits) nor a valid Indian number: refused as before.
    const bad = await stack.notify(withKey({ phone: '1234567', message: 'hi' }), { url: india.url });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('phone 1234567 is not a possible number for +1 (US); include the country code, e.g. 919876543210');
  });

  test('WHATSAPP_DEFAULT_COUNTRY must be a country libphonenumber knows', () => {
    expect(loadConfig({ WHATSAPP_DEFAULT_COUNTRY: 'in' }).defaultCountry).toBe('IN');
    expect(loadConfig({}).defaultCountry).toBeUndefined();
    expect(() => loadConfig({ WHATSAPP_DEFAULT_COUNTRY: 'India' })).toThrow('WHATSAPP_DEFAULT_COUNTRY must be a two-letter country code');
  });

  test('the admin forms check phones the same way: linking a user and pairing by code', async () => {
    const link = await stack.admin('POST', 'users', { username: 'nocode', phone: '9876543210' });
    expect(link.status).toBe(400);
    expect(link.body).toEqual({
      status: 'error',
      field: 'phone',
      message: 'phone 9876543210 is not a possible number for +98 (IR); include the country code, e.g. 919876543210',
    });
    expect((await stack.admin('GET', 'users')).body.users).not.toContainEqual(expect.objectContaining({ username: 'nocode' }));
    const pair = await stack.admin('POST', 'pair', { phone: '98765 43210' });
    expect(pair.status).toBe(400);
    expect(pair.body.message).toBe('phone 9876543210 is not a possible number for +98 (IR); include the country code, e.g. 919876543210');
    const linked = await stack.admin('POST', 'users', { username: 'withcode', phone: '+91 98765 43210' });
    expect(linked.status).toBe(200);
    expect(linked.body.user).toMatchObject({ username: 'withcode', phone: '919876543210' });
  });
});

describe('a 401 says why no key was read', () => {
  test('a form-encoded body with the right key in it', async () => {
    const res = await stack.notify(undefined, {
      raw: `apikey=${encodeURIComponent(stack.apiKey)}&self=true&message=hi`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      status: 'error',
      message: 'Invalid or missing API key (the body is form-encoded, not JSON; send a JSON object or the X-API-KEY header)',
    });
  });

  test('broken JSON, an empty body, JSON that is not an object', async () => {
    const broken = await stack.notify(undefined, { raw: `{"apikey":"${stack.apiKey}","self":true,` });
    expect(broken.status).toBe(401);
    expect(broken.body.message).toBe('Invalid or missing API key (the body is not JSON; send a JSON object or the X-API-KEY header)');
    const empty = await stack.notify(undefined, { raw: '' });
    expect(empty.body.message).toBe('Invalid or missing API key (the body is empty; send a JSON object or the X-API-KEY header)');
    const array = await stack.notify([{ apikey: stack.apiKey }]);
    expect(array.body.message).toBe(
      'Invalid or missing API key (the body is JSON but not an object; send a JSON object or the X-API-KEY header)',
    );
  });

  test('a JSON object without a key, or a wrong key in the header, keeps the plain message; authentication stays first', async () => {
    const noKey = await stack.notify({ self: true, message: 'hi' });
    expect(noKey.body).toEqual({ status: 'error', message: 'Invalid or missing API key' });
    const wrongHeader = await stack.notify(undefined, { raw: 'apikey=x', headers: { 'X-API-KEY': 'wan_wrong' } });
    expect(wrongHeader.status).toBe(401);
    expect(wrongHeader.body.message).toBe('Invalid or missing API key');
    // With a good key in the header, the broken body is the next problem: 400 naming the body.
    const goodHeader = await stack.notify(undefined, { raw: 'apikey=x', headers: { 'X-API-KEY': stack.apiKey } });
    expect(goodHeader.status).toBe(400);
    expect(goodHeader.body.field).toBe('body');
  });
});

describe('wrong method, wrong path', () => {
  const notifyUrl = () => `${stack.fn.url}/api/v1/whatsapp/notify`;

  test('GET on the notify route: 405, Allow: POST, and a message saying to POST JSON', async () => {
    const res = await fetch(notifyUrl());
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      status: 'error',
      message: 'GET is not allowed here: POST a JSON object (apikey, a recipient and message) to this URL',
    });
    const put = await fetch(notifyUrl(), { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    const postStatus = await fetch(`${notifyUrl()}/q202601010000-0000000000000000`, { method: 'POST', body: '{}' });
    expect(postStatus.status).toBe(405);
    expect(postStatus.headers.get('allow')).toBe('GET');
  });

  test('an unknown path under /api/ is a 404 that names the two routes', async () => {
    for (const p of ['/api/v1/whatsapp/notfy', '/api/v1/notify', '/api/']) {
      const res = await fetch(`${stack.fn.url}${p}`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        status: 'error',
        message: 'Not found. The API has POST /api/v1/whatsapp/notify (send) and GET /api/v1/whatsapp/notify/{id} (status)',
      });
    }
  });
});
