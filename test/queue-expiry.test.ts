/**
 * WHATSAPP_QUEUE_TTL: a notification that could not be sent in time ends `expired`, visible through
 * the status lookup, and is never sent afterwards.
 */
import { startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ name: 'queue-expiry', env: { WHATSAPP_QUEUE_TTL: '2s' } });
});
afterAll(async () => {
  await stack.dispose();
});

test('a notification queued while WhatsApp is offline expires after the TTL', async () => {
  const res = await stack.notify({ apikey: stack.apiKey, phones: ['919876543210', '447700900123'], message: 'too late' });
  expect(res.status).toBe(200);
  expect(res.body.deferred).toBe(true);
  const id = String(res.body.id);
  const states = async () => {
    const r = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${id}`, { headers: { 'X-API-KEY': stack.apiKey } });
    return ((await r.json()) as { data: { recipients: { state: string; error?: string }[] } }).data.recipients;
  };
  expect((await states()).map((r) => r.state)).toEqual(['queued', 'queued']);
  const deadline = Date.now() + 20_000;
  let now = await states();
  while (now.some((r) => r.state !== 'expired') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    now = await states();
  }
  expect(now).toEqual([
    expect.objectContaining({ state: 'expired', error: 'expired before it could be sent' }),
    expect.objectContaining({ state: 'expired', error: 'expired before it could be sent' }),
  ]);
});
