/**
 * Attachments all the way to the loopback WhatsApp peer, through the real media upload: the
 * recipient gets the exact bytes, MIME type, file name and caption, in the contract's order.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { pdfBytes, pngBytes } from './support/sample-files.js';

let stack: PairedStack;
const root = mkdtempSync(path.join(os.tmpdir(), 'wa-att-peer-'));
const png = pngBytes(32, 24);
const pdf = pdfBytes('quarterly numbers');

beforeAll(async () => {
  writeFileSync(path.join(root, 'chart.png'), png);
  writeFileSync(path.join(root, 'report.pdf'), pdf);
  stack = await startPairedStack({ name: 'attachments-whatsapp', env: { WHATSAPP_ATTACHMENT_ROOTS: root } });
  stack.peer.addContact('919876543210');
  stack.peer.addContact('919876543211');
}, 60_000);
afterAll(async () => {
  await stack.dispose();
  rmSync(root, { recursive: true, force: true });
});

const received = (jid: string, since: number) => stack.peer.received.slice(since).filter((m) => m.to === jid);

test('text, image with caption, then document — in that order, byte-identical', async () => {
  const since = stack.peer.received.length;
  const res = await stack.notify({
    apikey: stack.apiKey,
    phone: '919876543210',
    message: 'Daily report',
    image_path: path.join(root, 'chart.png'),
    caption: 'Equity curve',
    document_path: path.join(root, 'report.pdf'),
    filename: 'Report 2026-11-23.pdf',
    wait_for_delivery: true,
  });
  expect(res.status).toBe(200);
  expect((res.body.data as { sent: string[] }).sent).toEqual(['919876543210@s.whatsapp.net']);
  const got = received('919876543210@s.whatsapp.net', since);
  expect(got.map((m) => m.kind)).toEqual(['text', 'image', 'document']);
  expect(got[0]!.text).toBe('Daily report');
  expect(got[1]).toMatchObject({ caption: 'Equity curve', mimetype: 'image/png', bytesLength: png.length });
  expect(Buffer.from(got[1]!.bytes!).equals(png)).toBe(true);
  expect(got[2]).toMatchObject({ fileName: 'Report 2026-11-23.pdf', mimetype: 'application/pdf', bytesLength: pdf.length });
  expect(Buffer.from(got[2]!.bytes!).equals(pdf)).toBe(true);
});

test('a document with a caption and no image: the caption follows as a text', async () => {
  const since = stack.peer.received.length;
  const res = await stack.notify({
    apikey: stack.apiKey,
    phone: '919876543211',
    document_path: path.join(root, 'report.pdf'),
    caption: 'see the numbers',
    wait_for_delivery: true,
  });
  expect(res.status).toBe(200);
  const got = received('919876543211@s.whatsapp.net', since);
  expect(got.map((m) => [m.kind, m.kind === 'text' ? m.text : m.fileName])).toEqual([
    ['document', 'report.pdf'],
    ['text', 'see the numbers'],
  ]);
});

test('a media host slower than 5 s to answer an upload: the image still goes out', async () => {
  // Node's default HTTPS agent gives a socket 5 s of silence; Baileys took that for its upload timeout.
  stack.peer.setUploadDelay(6_000);
  try {
    const since = stack.peer.received.length;
    const res = await stack.notify({
      apikey: stack.apiKey,
      phone: '919876543211',
      image_path: path.join(root, 'chart.png'),
      caption: 'slow host',
      wait_for_delivery: true,
    });
    expect(res.status).toBe(200);
    expect((res.body.data as { sent: string[] }).sent).toEqual(['919876543211@s.whatsapp.net']);
    const got = received('919876543211@s.whatsapp.net', since);
    expect(got.map((m) => [m.kind, m.caption])).toEqual([['image', 'slow host']]);
    expect(Buffer.from(got[0]!.bytes!).equals(png)).toBe(true);
  } finally {
    stack.peer.setUploadDelay(0);
  }
}, 60_000);

test('a notification queued while paused keeps its bytes even after the file is gone', async () => {
  const file = path.join(root, 'ephemeral.png');
  writeFileSync(file, png);
  await stack.admin('POST', 'disconnect');
  const res = await stack.notify({ apikey: stack.apiKey, phone: '919876543210', image_path: file, caption: 'late' });
  expect(res.status).toBe(200);
  expect(res.body.deferred).toBe(true);
  rmSync(file);
  const since = stack.peer.received.length;
  await stack.admin('POST', 'connect');
  const got = await stack.peer.waitForMessage((m) => m.kind === 'image' && m.caption === 'late', 15_000);
  expect(Buffer.from(got.bytes!).equals(png)).toBe(true);
  expect(stack.peer.received.length).toBeGreaterThan(since);
});
