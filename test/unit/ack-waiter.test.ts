/**
 * The server-ack wait (sidecar/ack-waiter.ts): registered before the relay, timed from the relay.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createAckWaiter } from '../../sidecar/ack-waiter.js';

test('the time allowed for the ack starts at the relay, not while the message is still being prepared', async () => {
  const acks = createAckWaiter();
  const pending = acks.expect('M1');
  await sleep(120); // a media upload before the relay, longer than the ack timeout below
  const outcome = pending.armed(100);
  setTimeout(() => acks.acked('M1'), 40);
  await expect(outcome).resolves.toEqual({ ok: true });
  expect(acks.pending()).toBe(0);
});

test('an ack that comes before the wait is armed is kept; a refusal carries its code', async () => {
  const acks = createAckWaiter();
  const fast = acks.expect('M1');
  acks.acked('M1');
  await expect(fast.armed(10)).resolves.toEqual({ ok: true });
  const refused = acks.expect('M2');
  acks.acked('M2', '463');
  await expect(refused.armed(10)).resolves.toEqual({ ok: false, error: 'WhatsApp refused the message (error 463)', code: '463' });
});

test('no ack in time after the relay fails the wait; a closed socket fails waits not armed yet', async () => {
  const acks = createAckWaiter();
  await expect(acks.expect('M1').armed(30)).resolves.toEqual({ ok: false, error: 'no server acknowledgement in time' });
  const uploading = acks.expect('M2');
  acks.failAll('connection closed');
  await expect(uploading.armed(1_000)).resolves.toEqual({ ok: false, error: 'connection closed' });
  expect(acks.pending()).toBe(0);
});

test('the same id sent again ends the older wait at once; a late cancel or timeout of the older one leaves the newer be', async () => {
  const acks = createAckWaiter();
  const older = acks.expect('M1');
  const olderOutcome = older.armed(40);
  const newer = acks.expect('M1');
  await expect(olderOutcome).resolves.toEqual({ ok: false, error: 'sent again under the same id' });
  older.cancel();
  await sleep(60); // past the older wait's timeout
  expect(acks.pending()).toBe(1);
  const newerOutcome = newer.armed(1_000);
  acks.acked('M1');
  await expect(newerOutcome).resolves.toEqual({ ok: true });
});

test('a cancelled wait ends as not sent, and arming it afterwards changes nothing', async () => {
  const acks = createAckWaiter();
  const pending = acks.expect('M1');
  pending.cancel();
  await expect(pending.armed(10)).resolves.toEqual({ ok: false, error: 'not sent' });
  expect(acks.pending()).toBe(0);
});
