/**
 * The function's sidecar client (functions/notify-socket-client.ts) against a scripted sidecar: a
 * real WebSocket server on loopback that answers each `send` with the frames a test chooses. Here:
 * a delivery wait ends on the last recipient's report, without waiting for the `done` frame, and
 * only then (a repeated recipient's reports share one address, so `done` decides).
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { createSidecarClient, type SidecarClient } from '../../functions/notify-socket-client.js';
import { createLogger } from '../../shared/logger.js';
import {
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  parseClientMessage,
  type ServerMessage,
  type WireNotification,
} from '../../shared/sidecar-protocol.js';

type Script = (send: (m: ServerMessage) => void, requestId: string, id: string) => void;

let server: WebSocketServer;
let client: SidecarClient;
let script: Script;
const sockets = new Set<WebSocket>();

beforeEach(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => SUBPROTOCOL });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('message', (data) => {
      const parsed = parseClientMessage(String(data));
      if (!parsed.ok || parsed.message.type !== 'send') return;
      const m = parsed.message;
      script((frame) => ws.send(JSON.stringify(frame)), m.requestId, m.notification.id);
    });
  });
  const { port } = server.address() as AddressInfo;
  client = createSidecarClient({ url: `ws://127.0.0.1:${port}/ws`, token: 'test-token', log: createLogger({ level: 'silent' }) });
});

afterEach(async () => {
  await client.close();
  for (const ws of sockets) ws.terminate();
  sockets.clear();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const notification = (phones: string[]): WireNotification => ({
  id: 'q202611251200-0123456789abcdef',
  apiKeyHash: 'hash',
  createdAt: new Date().toISOString(),
  skipped: 0,
  waitForDelivery: true,
  recipients: phones.map((phone) => ({ kind: 'phone' as const, phone })),
  content: { message: 'hello' },
});

const accepted = (requestId: string, id: string, recipients: string[]): ServerMessage => ({
  v: PROTOCOL_VERSION,
  type: 'accepted',
  requestId,
  id,
  queued: recipients.length,
  deferred: false,
  recipients,
});
const report = (requestId: string, id: string, to: string): ServerMessage => ({
  v: PROTOCOL_VERSION,
  type: 'report',
  requestId,
  id,
  to,
  outcome: 'sent',
});

test('the wait ends on the last report, with no done frame', async () => {
  const jids = ['919876543210@s.whatsapp.net', '919876543211@s.whatsapp.net'];
  script = (send, requestId, id) => {
    send(accepted(requestId, id, jids));
    send(report(requestId, id, jids[0]!));
    setTimeout(() => send(report(requestId, id, jids[1]!)), 20); // and never `done`
  };
  const result = await client.submit(notification(['919876543210', '919876543211']), { rejectIfOffline: false, watchDelivery: true });
  if (result.kind !== 'accepted') throw new Error(`expected accepted, got ${result.kind}`);
  const started = Date.now();
  const { reports, done } = await result.delivery.wait(5_000);
  result.delivery.cancel();
  expect(done).toBe(true);
  expect(reports.map((r) => r.to).sort()).toEqual(jids);
  expect(Date.now() - started).toBeLessThan(4_000); // not the timeout
});

test('a repeated recipient (two rows, one address) still waits for done', async () => {
  const jid = '919876543210@s.whatsapp.net';
  let finish: (() => void) | undefined;
  script = (send, requestId, id) => {
    send(accepted(requestId, id, [jid, jid]));
    send(report(requestId, id, jid));
    send(report(requestId, id, jid));
    finish = () => send({ v: PROTOCOL_VERSION, type: 'done', requestId, id });
  };
  const result = await client.submit(notification(['919876543210', '919876543210']), { rejectIfOffline: false, watchDelivery: true });
  if (result.kind !== 'accepted') throw new Error(`expected accepted, got ${result.kind}`);
  // Both reports are in, but they share one address: the count alone cannot end the wait.
  expect(await result.delivery.wait(300)).toEqual({ reports: [expect.objectContaining({ to: jid })], done: false });
  finish!();
  expect((await result.delivery.wait(5_000)).done).toBe(true);
  result.delivery.cancel();
});
