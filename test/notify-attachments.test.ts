/**
 * Attachments through the real function and sidecar, WhatsApp offline: the allowlist, the type
 * and size rules, and the bytes kept durably with the queued notification (streamed to the sidecar
 * over the WebSocket, or stored by the function itself when the sidecar is away).
 */
import { mkdtempSync, rmSync, writeFileSync, symlinkSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { startStack, type Stack } from './support/stack.js';
import { pdfBytes, pngBytes } from './support/sample-files.js';
import { createAttachmentStore } from '../shared/attachment-store.js';
import { createNotificationQueue } from '../shared/notification-queue.js';

let stack: Stack;
// Made at load time: test.each below names paths inside them.
const root = mkdtempSync(path.join(os.tmpdir(), 'wa-att-'));
const outside = mkdtempSync(path.join(os.tmpdir(), 'wa-out-'));

beforeAll(async () => {
  mkdirSync(path.join(root, 'docs'));
  writeFileSync(path.join(root, 'chart.png'), pngBytes(16, 16));
  writeFileSync(path.join(root, 'docs', 'report.pdf'), pdfBytes());
  writeFileSync(path.join(root, 'notes.csv'), 'a,b\n1,2\n');
  writeFileSync(path.join(root, 'fake.jpg'), 'this is text, not a JPEG');
  writeFileSync(path.join(root, 'big.png'), pngBytes(4, 4, 3 * 1024 * 1024));
  writeFileSync(path.join(root, 'big.pdf'), Buffer.concat([pdfBytes(), Buffer.alloc(5 * 1024 * 1024, 0x20)]));
  writeFileSync(path.join(outside, 'secret.pdf'), pdfBytes('secret'));
  symlinkSync(path.join(outside, 'secret.pdf'), path.join(root, 'escape.pdf'));
  stack = await startStack({
    name: 'notify-attachments',
    env: {
      WHATSAPP_ATTACHMENT_ROOTS: root,
      WHATSAPP_MAX_IMAGE_BYTES: String(2 * 1024 * 1024),
      WHATSAPP_MAX_DOCUMENT_BYTES: String(4 * 1024 * 1024),
    },
  });
});
afterAll(async () => {
  await stack.dispose();
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const send = (body: Record<string, unknown>) => stack.notify({ apikey: stack.apiKey, phone: '919876543210', ...body });
const storedBytes = async (id: string, slot: 'image' | 'document') => {
  const chunks: Buffer[] = [];
  for await (const c of createAttachmentStore(stack.tables).open(id, slot)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

test('an image and a document are stored whole with the queued notification, with types from their bytes', async () => {
  const res = await send({
    message: 'see attached',
    image_path: path.join(root, 'chart.png'),
    document_path: path.join(root, 'docs', 'report.pdf'),
    caption: 'Q3',
    filename: 'Q3 report.pdf',
  });
  expect(res.status).toBe(200);
  expect(res.body.deferred).toBe(true);
  const id = String(res.body.id);
  const n = await createNotificationQueue(stack.tables).get(id);
  expect(n?.content).toEqual({
    message: 'see attached',
    caption: 'Q3',
    image: { byteLength: pngBytes(16, 16).length, mimetype: 'image/png', fileName: 'chart.png' },
    document: { byteLength: pdfBytes().length, mimetype: 'application/pdf', fileName: 'Q3 report.pdf' },
  });
  expect((await storedBytes(id, 'image')).equals(pngBytes(16, 16))).toBe(true);
  expect((await storedBytes(id, 'document')).equals(pdfBytes())).toBe(true);
});

test('a document without a filename keeps its base name; CSV gets text/csv', async () => {
  const res = await send({ document_path: path.join(root, 'notes.csv') });
  expect(res.status).toBe(200);
  expect(res.body.deferred).toBe(true);
  const n = await createNotificationQueue(stack.tables).get(String(res.body.id));
  expect(n?.content.document).toEqual({ byteLength: 8, mimetype: 'text/csv', fileName: 'notes.csv' });
  expect(await text(createAttachmentStore(stack.tables).open(String(res.body.id), 'document'))).toBe('a,b\n1,2\n');
});

test('a text file named .jpg is refused as an image', async () => {
  const res = await send({ image_path: path.join(root, 'fake.jpg') });
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ field: 'image_path', message: 'image_path must be a JPEG, PNG or WebP image' });
});

test.each([
  ['image_path', '/etc/passwd'],
  ['image_path', 'chart.png'],
  ['document_path', path.join(root, 'escape.pdf')],
  ['document_path', `${root}/docs/../notes.csv`],
  ['document_path', path.join(root, 'missing.pdf')],
  ['document_path', path.join(root, 'docs')],
])('%s %s is refused with the uniform message', async (field, p) => {
  const res = await send({ [field]: p });
  expect(res.status).toBe(400);
  expect(res.body).toEqual({
    status: 'error',
    field,
    message: `${field} is not allowed`,
    hint: expect.stringContaining('absolute path of a regular file inside one of the folders listed in WHATSAPP_ATTACHMENT_ROOTS'),
  });
});

test('files over the caps get 413 naming the field', async () => {
  const image = await send({ image_path: path.join(root, 'big.png') });
  expect(image.status).toBe(413);
  expect(image.body.field).toBe('image_path');
  const doc = await send({ document_path: path.join(root, 'big.pdf') });
  expect(doc.status).toBe(413);
  expect(doc.body.field).toBe('document_path');
});

test('with the sidecar down the function stores the bytes itself', async () => {
  await stack.sidecar.stop();
  try {
    const res = await send({ image_path: path.join(root, 'chart.png'), caption: 'offline' });
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
    expect((await storedBytes(String(res.body.id), 'image')).equals(pngBytes(16, 16))).toBe(true);
  } finally {
    await stack.sidecar.start();
  }
});

test('a 3 MiB document streams through in many frames intact', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  big.write('%PDF-1.7', 0);
  writeFileSync(path.join(root, 'three.pdf'), big);
  const res = await send({ document_path: path.join(root, 'three.pdf') });
  expect(res.status).toBe(200);
  expect(res.body.deferred).toBe(true);
  expect((await storedBytes(String(res.body.id), 'document')).equals(big)).toBe(true);
});
