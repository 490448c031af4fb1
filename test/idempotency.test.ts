/**
 * Idempotency-Key (contract extension): a repeat with the same key and API key within 24 h sends
 * nothing again and returns the first answer; concurrent repeats send once; errors that queued
 * nothing leave the key usable. Counted at the loopback WhatsApp peer.
 */
import { createApiKeyStore } from '../shared/api-keys.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';

let stack: PairedStack;
const PHONE = '919876543210';
const JID = `${PHONE}@s.whatsapp.net`;

beforeAll(async () => {
  stack = await startPairedStack({ name: 'idempotency', env: { WHATSAPP_SEND_BUDGET: 'off' } });
  stack.peer.addContact(PHONE);
}, 60_000);
afterAll(async () => {
  await stack.dispose();
});

const countText = (text: string) => stack.peer.received.filter((m) => m.to === JID && m.text === text).length;
const settle = () => new Promise((r) => setTimeout(r, 1_500));

test('a repeat with the same Idempotency-Key returns the first answer and sends nothing', async () => {
  const body = { apikey: stack.apiKey, phone: PHONE, message: 'idem-header-1' };
  const first = await stack.notify(body, { headers: { 'Idempotency-Key': 'order-1001' } });
  expect(first.status).toBe(200);
  await stack.peer.waitForMessage((m) => m.text === 'idem-header-1', 10_000);
  const again = await stack.notify(body, { headers: { 'Idempotency-Key': 'order-1001' } });
  expect(again.status).toBe(first.status);
  expect(again.text).toBe(first.text);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  await settle();
  expect(countText('idem-header-1')).toBe(1);
});

test('the idempotency_key field works like the header; another key sends again', async () => {
  const body = { apikey: stack.apiKey, phone: PHONE, message: 'idem-field-1' };
  const first = await stack.notify({ ...body, idempotency_key: 'k-field' });
  const again = await stack.notify({ ...body, idempotency_key: 'k-field' });
  const other = await stack.notify({ ...body, idempotency_key: 'k-field-2' });
  expect(first.status).toBe(200);
  expect(again.text).toBe(first.text);
  expect(other.status).toBe(200);
  expect(other.body.id).not.toBe(first.body.id);
  await stack.peer.waitFor(() => countText('idem-field-1') >= 2, 10_000);
  await settle();
  expect(countText('idem-field-1')).toBe(2);
});

test('ten concurrent repeats: one send, every answer identical', async () => {
  const body = { apikey: stack.apiKey, phone: PHONE, message: 'idem-concurrent' };
  const answers = await Promise.all(Array.from({ length: 10 }, () => stack.notify(body, { headers: { 'Idempotency-Key': 'burst-7' } })));
  for (const a of answers) {
    expect(a.status).toBe(200);
    expect(a.text).toBe(answers[0]!.text);
  }
  await stack.peer.waitForMessage((m) => m.text === 'idem-concurrent', 10_000);
  await settle();
  expect(countText('idem-concurrent')).toBe(1);
});

test('wait_for_delivery: the repeat gets the same delivery report', async () => {
  const body = { apikey: stack.apiKey, phone: PHONE, message: 'idem-wait', wait_for_delivery: true };
  const first = await stack.notify(body, { headers: { 'Idempotency-Key': 'wait-1' } });
  expect(first.status).toBe(200);
  expect((first.body.data as { sent: string[] }).sent).toEqual([JID]);
  const again = await stack.notify(body, { headers: { 'Idempotency-Key': 'wait-1' } });
  expect(again.status).toBe(200);
  expect(again.text).toBe(first.text);
  await settle();
  expect(countText('idem-wait')).toBe(1);
});

test('a deferred answer (WhatsApp paused: 200, deferred) is remembered: the repeat gets it back and one message goes out', async () => {
  expect((await stack.admin('POST', 'disconnect')).body.state).toBe('paused');
  const body = { apikey: stack.apiKey, phone: PHONE, message: 'idem-deferred', wait_for_delivery: true };
  let first, again;
  try {
    first = await stack.notify(body, { headers: { 'Idempotency-Key': 'deferred-1' } });
    again = await stack.notify(body, { headers: { 'Idempotency-Key': 'deferred-1' } });
  } finally {
    await stack.admin('POST', 'connect');
  }
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ status: 'success', deferred: true, data: { pending: [JID] } });
  expect(again.status).toBe(200);
  expect(again.text).toBe(first.text);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  await stack.waitForState('open');
  await stack.peer.waitForMessage((m) => m.text === 'idem-deferred', 15_000);
  const third = await stack.notify(body, { headers: { 'Idempotency-Key': 'deferred-1' } });
  expect(third.text).toBe(first.text);
  await settle();
  expect(countText('idem-deferred')).toBe(1);
});

test('the same key under another API key is a different request', async () => {
  const { key: otherKey } = await createApiKeyStore(stack.tables, stack.env.WHATSAPP_API_KEY_PEPPER!).create('idem-other');
  const a = await stack.notify(
    { apikey: stack.apiKey, phone: PHONE, message: 'idem-two-keys' },
    { headers: { 'Idempotency-Key': 'shared' } },
  );
  const b = await stack.notify({ apikey: otherKey, phone: PHONE, message: 'idem-two-keys' }, { headers: { 'Idempotency-Key': 'shared' } });
  expect(a.status).toBe(200);
  expect(b.status).toBe(200);
  expect(b.body.id).not.toBe(a.body.id);
  await stack.peer.waitFor(() => countText('idem-two-keys') >= 2, 10_000);
});

test('an answer that queued nothing (404) is not remembered: the same key works once the user is linked', async () => {
  const body = { apikey: stack.apiKey, username: 'idem-user', message: 'idem-after-404' };
  const first = await stack.notify(body, { headers: { 'Idempotency-Key': 'retry-after-404' } });
  expect(first.status).toBe(404);
  await stack.linkUser('idem-user', PHONE);
  const second = await stack.notify(body, { headers: { 'Idempotency-Key': 'retry-after-404' } });
  expect(second.status).toBe(200);
  const third = await stack.notify(body, { headers: { 'Idempotency-Key': 'retry-after-404' } });
  expect(third.text).toBe(second.text);
  await stack.peer.waitForMessage((m) => m.text === 'idem-after-404', 10_000);
  await settle();
  expect(countText('idem-after-404')).toBe(1);
});

test('header and field that disagree → 400; an over-long header → 400', async () => {
  const mismatch = await stack.notify(
    { apikey: stack.apiKey, self: true, message: 'x', idempotency_key: 'a' },
    { headers: { 'Idempotency-Key': 'b' } },
  );
  expect(mismatch.status).toBe(400);
  expect(mismatch.body.field).toBe('idempotency_key');
  const long = await stack.notify({ apikey: stack.apiKey, self: true, message: 'x' }, { headers: { 'Idempotency-Key': 'k'.repeat(129) } });
  expect(long.status).toBe(400);
  expect(long.body.field).toBe('Idempotency-Key');
});
