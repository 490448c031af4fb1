/**
 * The typed client (`import { WaNotify } from 'wa-notify'`) against a real paired stack: every
 * recipient form, attachments, wait mode, status, the offline answer, errors mapped to
 * WaNotifyError, and the idempotency key end to end. The retry rules are checked against a small
 * local HTTP server scripted to answer 503/429/504 or drop the connection, since a real stack
 * cannot be made to fail on cue.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WaNotify, WaNotifyError, type SendResult } from '../client/index.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { pdfBytes, pngBytes } from './support/sample-files.js';

let stack: PairedStack;
let wa: WaNotify;
const root = mkdtempSync(path.join(os.tmpdir(), 'wa-client-'));

beforeAll(async () => {
  writeFileSync(path.join(root, 'chart.png'), pngBytes(16, 16));
  writeFileSync(path.join(root, 'report.pdf'), pdfBytes('client test'));
  stack = await startPairedStack({ name: 'client', env: { WHATSAPP_ATTACHMENT_ROOTS: root } });
  stack.peer.addContact('919876543210');
  stack.peer.addContact('919876543211');
  stack.peer.addContact('15550009999', { onWhatsApp: false });
  wa = new WaNotify({ url: stack.fn.url, apiKey: stack.apiKey });
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
  rmSync(root, { recursive: true, force: true });
});

const jid = (phone: string) => `${phone}@s.whatsapp.net`;
const textArrives = (to: string, text: string) => stack.peer.waitForMessage((m) => m.to === to && m.text === text, 10_000);

async function caught(promise: Promise<unknown>): Promise<WaNotifyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WaNotifyError);
    return error as WaNotifyError;
  }
  throw new Error('expected a WaNotifyError');
}

describe('against the real stack', () => {
  test('phone (string and integer): queued, then delivered', async () => {
    const result = await wa.send({ phone: '+91 98765 43210', message: 'client: one phone' });
    expect(result).toEqual({
      kind: 'queued',
      status: 'success',
      message: 'Queued for 1 recipient(s)',
      queued: 1,
      skipped: 0,
      id: expect.any(String),
    });
    await textArrives(jid('919876543210'), 'client: one phone');
    const asNumber = await wa.send({ phone: 919876543211, message: 'client: integer phone' });
    expect(asNumber.kind).toBe('queued');
    await textArrives(jid('919876543211'), 'client: integer phone');
  });

  test('self with wait_for_delivery: a delivery report naming the paired JID', async () => {
    const result = await wa.send({ self: true, message: 'client: self', wait_for_delivery: true });
    expect(result.kind).toBe('delivery');
    if (result.kind !== 'delivery') return;
    expect(result.status).toBe('success');
    expect(result.data).toEqual({ sent: [stack.peer.selfJid], failed: [], skipped: 0 });
  });

  test('phones: duplicates collapse; a number not on WhatsApp is reported failed (status error, 200)', async () => {
    const result = await wa.send({
      phones: ['919876543210', '+91 98765 43210', '15550009999'],
      message: 'client: phones',
      wait_for_delivery: true,
    });
    expect(result.kind).toBe('delivery');
    if (result.kind !== 'delivery') return;
    expect(result.status).toBe('error');
    expect(result.data.sent).toEqual([jid('919876543210')]);
    expect(result.data.failed).toEqual([{ to: jid('15550009999'), error: 'not on WhatsApp' }]);
  });

  test('username: delivered to the linked phone; status(id) shows the recipient', async () => {
    await stack.linkUser('client-user', '919876543211');
    const result = await wa.send({ username: 'client-user', message: 'client: username', wait_for_delivery: true });
    expect(result.kind === 'delivery' && result.data.sent).toEqual([jid('919876543211')]);
    // The answer leaves on WhatsApp's ack and the outcome write follows it (docs/storage-layout.md):
    // storage says `sending` for a moment, then `sent`.
    let status = await wa.status(result.id);
    for (let i = 0; i < 50 && status.recipients[0]?.state === 'sending'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await wa.status(result.id);
    }
    expect(status.id).toBe(result.id);
    // The status route reports phone digits, the form requests use.
    expect(status.recipients).toEqual([
      expect.objectContaining({ to: '919876543211', state: expect.stringMatching(/^(sent|delivered|read)$/) }),
    ]);
  });

  test('image with caption and a named document arrive in order', async () => {
    const since = stack.peer.received.length;
    const result = await wa.send({
      phone: '919876543210',
      image_path: path.join(root, 'chart.png'),
      caption: 'client chart',
      document_path: path.join(root, 'report.pdf'),
      filename: 'Client report.pdf',
      wait_for_delivery: true,
    });
    expect(result.kind === 'delivery' && result.status).toBe('success');
    const got = stack.peer.received.slice(since).filter((m) => m.to === jid('919876543210'));
    expect(got.map((m) => m.kind)).toEqual(['image', 'document']);
    expect(got[0]).toMatchObject({ caption: 'client chart', mimetype: 'image/png' });
    expect(got[1]).toMatchObject({ fileName: 'Client report.pdf', mimetype: 'application/pdf' });
  });

  test('errors carry status, message and field', async () => {
    const invalid = await caught(wa.send({ phones: ['919876543210', '12'], message: 'x' }));
    expect(invalid).toMatchObject({ status: 400, field: 'phones[1]' });
    expect(invalid.message).toMatch(/^phones\[1\] /);

    const both = await caught(wa.send({ self: true, phone: '919876543210', message: 'x' } as never));
    expect(both).toMatchObject({ status: 400, field: 'recipient' });

    const unknownUser = await caught(wa.send({ username: 'nobody-here', message: 'x' }));
    expect(unknownUser).toMatchObject({ status: 404, message: 'Username not found or not linked to WhatsApp' });

    const badKey = await caught(new WaNotify({ url: stack.fn.url, apiKey: 'not-a-key' }).send({ self: true, message: 'x' }));
    expect(badKey).toMatchObject({ status: 401, message: 'Invalid or missing API key' });

    const outside = await caught(wa.send({ self: true, image_path: '/etc/passwd' }));
    expect(outside).toMatchObject({ status: 400, field: 'image_path', message: 'image_path is not allowed' });

    const noAnswer = await caught(
      new WaNotify({ url: 'http://127.0.0.1:9', apiKey: 'k', retry: { retries: 0 } }).send({ self: true, message: 'x' }),
    );
    expect(noAnswer.status).toBe(0);
    expect(noAnswer.isNetworkError).toBe(true);

    const missing = await caught(wa.status('q202001010000-0000000000000000'));
    expect(missing).toMatchObject({ status: 404 });
  });

  test('none sent in wait mode: WaNotifyError 502 carrying the delivery report', async () => {
    const error = await caught(wa.send({ phone: '15550009999', message: 'x', wait_for_delivery: true }));
    expect(error.status).toBe(502);
    expect(error.report?.data.failed).toEqual([{ to: jid('15550009999'), error: 'not on WhatsApp' }]);
    expect(error.id).toBe(error.report?.id);
  });

  test('an idempotency key: the repeat returns the first answer and nothing is sent twice', async () => {
    const key = `client-idem-${Date.now()}`;
    const first = await wa.send({ phone: '919876543211', message: 'client: once only', idempotency_key: key, wait_for_delivery: true });
    const again = await wa.send({ phone: '919876543211', message: 'client: once only', idempotency_key: key, wait_for_delivery: true });
    expect(again.id).toBe(first.id);
    await new Promise((r) => setTimeout(r, 500));
    expect(stack.peer.received.filter((m) => m.text === 'client: once only')).toHaveLength(1);
  });

  test('WhatsApp paused: deferred (200, deferred: true), then delivered after connect', async () => {
    await stack.admin('POST', 'disconnect');
    try {
      const result: SendResult = await wa.send({ phone: '919876543210', message: 'client: deferred' });
      expect(result).toMatchObject({ kind: 'deferred', deferred: true, queued: 1 });
      // wait_for_delivery is answered at once: deferred too (not a delivery report), everyone pending.
      const waited = await wa.send({ phone: '919876543210', message: 'client: deferred, waited', wait_for_delivery: true });
      expect(waited).toMatchObject({
        kind: 'deferred',
        status: 'success',
        data: { sent: [], failed: [], skipped: 0, pending: [jid('919876543210')] },
      });
    } finally {
      await stack.admin('POST', 'connect');
    }
    await stack.waitForState('open');
    await textArrives(jid('919876543210'), 'client: deferred');
  });
});

describe('retries (against a scripted local server)', () => {
  interface Seen {
    idempotencyKey: string | undefined;
    body: Record<string, unknown>;
    at: number;
  }
  type Reply = (res: http.ServerResponse) => void;
  let server: http.Server;
  let url: string;
  let seen: Seen[];
  let script: Reply[];

  const json =
    (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
    (res) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
  const queued = json(200, {
    status: 'success',
    message: 'Queued for 1 recipient(s)',
    queued: 1,
    skipped: 0,
    id: 'q202601010000-00000000000000aa',
  });
  const drop: Reply = (res) => res.socket?.destroy();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          idempotencyKey: req.headers['idempotency-key'] as string | undefined,
          body: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
          at: Date.now(),
        });
        (script.shift() ?? json(500, { status: 'error', message: 'script ran out' }))(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen = [];
    script = [];
  });

  const client = () => new WaNotify({ url, apiKey: 'k', retry: { baseDelayMs: 20 } });

  test('with a key: 503 then 200 is retried, the same key sent both times (header and field)', async () => {
    script = [
      json(503, { status: 'error', message: 'Storage is unavailable; nothing was queued, retry later' }, { 'Retry-After': '0' }),
      queued,
    ];
    const result = await client().send({ self: true, message: 'x', idempotency_key: 'k-503' });
    expect(result.kind).toBe('queued');
    expect(seen.map((s) => s.idempotencyKey)).toEqual(['k-503', 'k-503']);
    expect(seen.map((s) => s.body.idempotency_key)).toEqual(['k-503', 'k-503']);
  });

  test('without a key: the same 503 is not retried', async () => {
    script = [
      json(503, { status: 'error', message: 'Storage is unavailable; nothing was queued, retry later' }, { 'Retry-After': '0' }),
      queued,
    ];
    const error = await caught(client().send({ self: true, message: 'x' }));
    expect(error).toMatchObject({ status: 503, retryAfterSeconds: 0 });
    expect(seen).toHaveLength(1);
  });

  test('with a key: a dropped connection is retried; without one it is not', async () => {
    script = [drop, queued];
    expect((await client().send({ self: true, message: 'x', idempotency_key: 'k-drop' })).kind).toBe('queued');
    expect(seen).toHaveLength(2);

    seen = [];
    script = [drop, queued];
    const error = await caught(client().send({ self: true, message: 'x' }));
    expect(error.status).toBe(0);
    expect(seen).toHaveLength(1);
  });

  test('with a key: 429 waits for Retry-After before the retry', async () => {
    script = [json(429, { status: 'error', message: 'Too many requests; retry later' }, { 'Retry-After': '1' }), queued];
    await client().send({ self: true, message: 'x', idempotency_key: 'k-429' });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  test('with a key: 504 is never retried (sending goes on) and its report is on the error', async () => {
    const report = {
      status: 'error',
      message: 'Sent to 0 of 1 recipient(s); timed out waiting for 1 (sending goes on)',
      data: { sent: [], failed: [], skipped: 0, pending: ['919876543210@s.whatsapp.net'] },
      id: 'q202601010000-00000000000000bb',
    };
    script = [json(504, report), queued];
    const error = await caught(client().send({ phone: '919876543210', message: 'x', wait_for_delivery: true, idempotency_key: 'k-504' }));
    expect(error.status).toBe(504);
    expect(error.report?.data.pending).toEqual(['919876543210@s.whatsapp.net']);
    expect(seen).toHaveLength(1);
  });

  test('with a key: 502, 500 and 400 are final', async () => {
    for (const status of [502, 500, 400]) {
      seen = [];
      script = [json(status, { status: 'error', message: `HTTP ${status} from the script` }), queued];
      const error = await caught(client().send({ self: true, message: 'x', idempotency_key: `k-${status}` }));
      expect(error.status).toBe(status);
      expect(seen).toHaveLength(1);
    }
  });

  test('retries stop after the configured count', async () => {
    const busy = json(503, { status: 'error', message: 'busy' }, { 'Retry-After': '0' });
    script = [busy, busy, busy, busy, queued];
    const error = await caught(
      new WaNotify({ url, apiKey: 'k', retry: { retries: 2, baseDelayMs: 10 } }).send({
        self: true,
        message: 'x',
        idempotency_key: 'k-many',
      }),
    );
    expect(error.status).toBe(503);
    expect(seen).toHaveLength(3);
  });

  test('a non-JSON error page (a proxy) still becomes a WaNotifyError with its status', async () => {
    script = [(res) => res.writeHead(404, { 'Content-Type': 'text/html' }).end('<html>not here</html>')];
    const error = await caught(client().send({ self: true, message: 'x' }));
    expect(error).toMatchObject({ status: 404, message: 'HTTP 404' });
  });
});
