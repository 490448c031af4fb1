/**
 * Text through the whole system to the loopback WhatsApp peer: HTTP → function → WebSocket →
 * sidecar → real Baileys → peer, and the per-recipient reports back.
 */
import { startPairedStack, type PairedStack } from './support/paired-stack.js';

let stack: PairedStack;
beforeAll(async () => {
  stack = await startPairedStack({ name: 'notify-whatsapp' });
  stack.peer.addContact('919876543210');
  stack.peer.addContact('919876543211');
  stack.peer.addContact('447700900123');
  stack.peer.addContact('15550009999', { onWhatsApp: false });
}, 60_000);
afterAll(async () => {
  await stack.dispose();
});

const send = (body: Record<string, unknown>) => stack.notify({ apikey: stack.apiKey, ...body });
const textsTo = (jid: string) => stack.peer.received.filter((m) => m.to === jid && m.kind === 'text').map((m) => m.text);

test('fire-and-forget to one phone: 200 queued, then the text arrives decrypted and intact', async () => {
  const message = 'Order placed: BUY RELIANCE x 10 @ MARKET — ✓ ₹ 😀';
  const res = await send({ phone: '+91 98765 43210', message });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: 'success', message: 'Queued for 1 recipient(s)', queued: 1, skipped: 0, id: expect.any(String) });
  const got = await stack.peer.waitForMessage((m) => m.to === '919876543210@s.whatsapp.net' && m.text === message, 10_000);
  expect(got.text).toBe(message);
});

test('a text with line and paragraph separators (U+2028, U+2029) is queued and arrives intact', async () => {
  // Azurite refused such text inside a transaction: the notification, and any batched with it, got 503.
  const message = 'Stop loss hit\u2028NIFTY 24,500\u2029Next: review';
  const res = await send({ phone: '919876543210', message, wait_for_delivery: true });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ status: 'success', data: { sent: ['919876543210@s.whatsapp.net'] } });
  expect(textsTo('919876543210@s.whatsapp.net')).toContain(message);
});

test('wait_for_delivery to self reports the paired JID as sent', async () => {
  const res = await send({ self: true, message: 'Build #482 finished in 1m 23s', wait_for_delivery: true });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    status: 'success',
    message: 'Sent to 1 of 1 recipient(s)',
    data: { sent: [stack.peer.selfJid], failed: [], skipped: 0 },
    id: expect.any(String),
  });
  expect(stack.peer.received.some((m) => m.text === 'Build #482 finished in 1m 23s')).toBe(true);
});

test('a small broadcast with one number not on WhatsApp: 200 with status error and the failure named', async () => {
  const res = await send({ phones: ['919876543211', '15550009999', '447700900123'], message: 'broadcast', wait_for_delivery: true });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('error');
  expect(res.body.message).toBe('Sent to 2 of 3 recipient(s)');
  expect(res.body.data).toEqual({
    sent: ['919876543211@s.whatsapp.net', '447700900123@s.whatsapp.net'],
    failed: [{ to: '15550009999@s.whatsapp.net', error: 'not on WhatsApp' }],
    skipped: 0,
  });
  expect(textsTo('15550009999@s.whatsapp.net')).toEqual([]);
});

test('an error ack from the server (463) fails that recipient; none sent → 502', async () => {
  stack.peer.failAcks('447700900123@s.whatsapp.net', 463);
  try {
    const res = await send({ phone: '447700900123', message: 'restricted', wait_for_delivery: true });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ status: 'error', message: 'Sent to 0 of 1 recipient(s)' });
    expect((res.body.data as { failed: { error: string }[] }).failed[0]?.error).toContain('463');
  } finally {
    stack.peer.clearFailAcks();
  }
});

test('no answer within the wait timeout → 504 with pending; sending goes on and completes', async () => {
  const slow = await stack.startFunctionInstance({ WHATSAPP_WAIT_TIMEOUT_MS: '300' });
  stack.peer.setAckDelay(1_500);
  try {
    const res = await stack.notify(
      { apikey: stack.apiKey, phone: '919876543211', message: 'slow ack', wait_for_delivery: true },
      { url: slow.url },
    );
    expect(res.status).toBe(504);
    expect(res.body.status).toBe('error');
    expect(res.body.data).toEqual({ sent: [], failed: [], skipped: 0, pending: ['919876543211@s.whatsapp.net'] });
    const id = String(res.body.id);
    await stack.peer.waitForMessage((m) => m.text === 'slow ack', 10_000);
    const deadline = Date.now() + 10_000;
    let state = '';
    while (Date.now() < deadline && !['sent', 'delivered', 'read'].includes(state)) {
      const status = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${id}`, { headers: { 'X-API-KEY': stack.apiKey } });
      state = ((await status.json()) as { data: { recipients: { state: string }[] } }).data.recipients[0]!.state;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(['sent', 'delivered', 'read']).toContain(state);
  } finally {
    stack.peer.setAckDelay(0);
    await slow.close();
  }
});

test('receipts move the recipient to delivered, then read', async () => {
  const res = await send({ phone: '919876543210', message: 'track me', wait_for_delivery: true });
  expect(res.status).toBe(200);
  const msg = await stack.peer.waitForMessage((m) => m.text === 'track me');
  const stateOf = async () => {
    const r = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${String(res.body.id)}`, { headers: { 'X-API-KEY': stack.apiKey } });
    return ((await r.json()) as { data: { recipients: { state: string }[] } }).data.recipients[0]!.state;
  };
  const waitState = async (want: string) => {
    const deadline = Date.now() + 10_000;
    let s = await stateOf();
    while (s !== want && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      s = await stateOf();
    }
    return s;
  };
  expect(await waitState('delivered')).toBe('delivered');
  await stack.peer.sendReceipt(msg.id, 'read');
  expect(await waitState('read')).toBe('read');
});

test('paused: notifications answer 200 deferred, at once even with wait_for_delivery; after connect they are delivered', async () => {
  expect((await stack.admin('POST', 'disconnect')).body.state).toBe('paused');
  const res = await send({ phone: '919876543211', message: 'queued while paused', wait_for_delivery: true });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({
    status: 'success',
    deferred: true,
    data: { sent: [], failed: [], skipped: 0, pending: ['919876543211@s.whatsapp.net'] },
  });
  expect(textsTo('919876543211@s.whatsapp.net')).not.toContain('queued while paused');
  await stack.admin('POST', 'connect');
  await stack.waitForState('open');
  await stack.peer.waitForMessage((m) => m.text === 'queued while paused', 15_000);
});

test('a linked username is delivered to its phone', async () => {
  await stack.linkUser('trader7', '919876543210');
  const res = await send({ username: 'trader7', message: 'for trader7', wait_for_delivery: true });
  expect(res.status).toBe(200);
  expect((res.body.data as { sent: string[] }).sent).toEqual(['919876543210@s.whatsapp.net']);
});
