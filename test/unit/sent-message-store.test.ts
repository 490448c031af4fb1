/**
 * The getMessage store (sidecar/sent-message-store.ts): text the queue can rebuild is not held,
 * media messages are, within a byte budget, and the queue answers whatever memory does not hold.
 */
import { proto } from '@whiskeysockets/baileys';
import { createSentMessageStore } from '../../sidecar/sent-message-store.js';

const text = (t: string): proto.IMessage => ({
  extendedTextMessage: { text: t },
  messageContextInfo: { messageSecret: Buffer.alloc(32, 1) },
});
const image = (caption: string, padding = 0): proto.IMessage => ({
  imageMessage: {
    url: 'https://mmg.whatsapp.net/v/t62.7118-24/abc',
    mediaKey: Buffer.alloc(32, 2),
    fileEncSha256: Buffer.alloc(32, 3),
    directPath: '/v/t62.7118-24/abc',
    caption: caption + ' '.repeat(padding),
    mimetype: 'image/png',
  },
});

test('a text message is left to the queue; a media message is held', async () => {
  const asked: string[] = [];
  const store = createSentMessageStore({
    lookup: async (id) => {
      asked.push(id);
      return id === 'T1' ? { extendedTextMessage: { text: 'from the queue' } } : undefined;
    },
  });
  store.remember('T1', text('hello'));
  store.remember('M1', image('chart'));
  expect(store.size()).toBe(1);
  expect(await store.get('M1')).toEqual(image('chart'));
  expect(await store.get('T1')).toEqual({ extendedTextMessage: { text: 'from the queue' } });
  expect(await store.get('nope')).toBeUndefined();
  expect(asked).toEqual(['T1', 'nope']);
});

test('without a queue to rebuild from, text is held too', async () => {
  const store = createSentMessageStore();
  store.remember('T1', text('hello'));
  expect(await store.get('T1')).toEqual(text('hello'));
});

test('media messages are bounded by their encoded bytes, oldest out', async () => {
  const one = proto.Message.encode(image('m0', 1_000)).finish().length;
  const store = createSentMessageStore({ maxBytes: Math.floor(one * 3.5), lookup: async () => undefined });
  for (let i = 0; i < 10; i++) store.remember(`M${i}`, image(`m${i}`, 1_000));
  expect(store.size()).toBe(3);
  expect(await store.get('M0')).toBeUndefined();
  expect(await store.get('M9')).toEqual(image('m9', 1_000));
});
