/**
 * Reads a decrypted message the way a phone shows it: its kind and text / caption / file name,
 * and for images and documents the plaintext media, downloaded from the peer's media host and
 * decrypted with the message's `mediaKey` (MAC and `fileSha256` checked).
 */
import type { MediaType, proto } from '@whiskeysockets/baileys';
import { decryptMedia, type MediaServer } from './media-server.js';
import type { ReceivedMessage } from './received.js';

export const describeMessage = (m: proto.IMessage): Pick<ReceivedMessage, 'kind' | 'text' | 'caption' | 'fileName' | 'mimetype'> => {
  if (m.conversation) return { kind: 'text', text: m.conversation };
  if (m.extendedTextMessage?.text) return { kind: 'text', text: m.extendedTextMessage.text };
  if (m.imageMessage) {
    return {
      kind: 'image',
      ...(m.imageMessage.caption ? { caption: m.imageMessage.caption } : {}),
      ...(m.imageMessage.mimetype ? { mimetype: m.imageMessage.mimetype } : {}),
    };
  }
  const doc = m.documentMessage ?? m.documentWithCaptionMessage?.message?.documentMessage;
  if (doc) {
    return {
      kind: 'document',
      ...(doc.caption ? { caption: doc.caption } : {}),
      ...(doc.fileName ? { fileName: doc.fileName } : {}),
      ...(doc.mimetype ? { mimetype: doc.mimetype } : {}),
    };
  }
  return { kind: 'other' };
};

export type MediaRecord = ReceivedMessage & { kind: 'image' | 'document' };
export const hasMedia = (rec: ReceivedMessage): rec is MediaRecord => rec.kind === 'image' || rec.kind === 'document';

/** sets `bytes`/`bytesLength` of an image or document record, or `mediaError` saying why not */
export const attachMedia = async (rec: MediaRecord, message: proto.IMessage, media: MediaServer): Promise<void> => {
  const mm =
    rec.kind === 'image' ? message.imageMessage : (message.documentMessage ?? message.documentWithCaptionMessage?.message?.documentMessage);
  try {
    const upload = media.find(mm?.fileEncSha256);
    if (!upload) throw new Error('media not found on the peer media host');
    if (!mm?.mediaKey) throw new Error('message carries no mediaKey');
    const bytes = await decryptMedia(upload.body, mm.mediaKey, rec.kind as MediaType, mm.fileSha256);
    rec.bytes = bytes;
    rec.bytesLength = bytes.length;
  } catch (err) {
    rec.mediaError = (err as Error).message;
  }
};
