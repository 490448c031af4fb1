/**
 * Pairing through the admin API with the real Baileys client and the loopback peer's scripted
 * phone: by QR and by pairing code; the session then survives a sidecar restart without pairing.
 */
import { startPairedStack, type PairedStack } from './support/paired-stack.js';

describe('by pairing code', () => {
  let stack: PairedStack;
  beforeAll(async () => {
    stack = await startPairedStack({ name: 'pairing-code', pair: false });
  }, 60_000);
  afterAll(async () => {
    await stack.dispose();
  });

  test('POST pair with a phone returns an 8-character code; entering it on the phone links the device', async () => {
    expect((await stack.admin('GET', 'status')).body).toEqual({ state: 'unpaired' });
    const bad = await stack.admin('POST', 'pair', { phone: '0123' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('phone');
    const res = await stack.admin('POST', 'pair', { phone: `+${stack.peer.selfPhone}` });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('pairing');
    expect(String(res.body.pairing_code)).toMatch(/^[A-Z0-9]{8}$/);
    await stack.peer.pairWithCode(String(res.body.pairing_code));
    const open = await stack.waitForState('open');
    expect(open.me).toBe(stack.peer.selfJid);
    expect(stack.peer.stats.pairings).toBe(1);
  });
});

describe('by QR, then a restart', () => {
  let stack: PairedStack;
  beforeAll(async () => {
    stack = await startPairedStack({ name: 'pairing-qr' });
  }, 60_000);
  afterAll(async () => {
    await stack.dispose();
  });

  test('the session lives in Table storage: a killed sidecar comes back open without pairing', async () => {
    expect((await stack.admin('GET', 'status')).body).toMatchObject({ state: 'open', me: stack.peer.selfJid });
    const pairings = stack.peer.stats.pairings;
    await stack.sidecar.stop({ crash: true });
    await stack.sidecar.start();
    await stack.waitForState('open');
    expect(stack.peer.stats.pairings).toBe(pairings);
    const res = await stack.notify({ apikey: stack.apiKey, self: true, message: 'after restart', wait_for_delivery: true });
    expect(res.status).toBe(200);
  });

  test('the stored session is encrypted: no creds in clear text in the table', async () => {
    const client = stack.tables.client('session');
    let rows = 0;
    for await (const e of client.listEntities<Record<string, unknown>>()) {
      rows++;
      const text = JSON.stringify(e);
      expect(text).not.toContain('noiseKey');
      expect(text).not.toContain(stack.peer.selfPhone);
    }
    expect(rows).toBeGreaterThan(1);
  });

  test('unlink logs out and wipes the session', async () => {
    const res = await stack.admin('POST', 'unlink');
    expect(res.body.state).toBe('logged_out');
    const client = stack.tables.client('session');
    const left: string[] = [];
    for await (const e of client.listEntities()) if (e.partitionKey === 'creds' || e.partitionKey === 'keys') left.push(e.rowKey!);
    expect(left).toEqual([]);
  });
});
