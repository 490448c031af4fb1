/**
 * Attachment bytes travel from the function to the sidecar as binary WebSocket frames right after
 * the `send` frame that declares them (no base64 in JSON). Each frame:
 *   16 bytes  requestId (a UUID, as raw bytes)
 *    1 byte   slot: 0 image, 1 document
 *    1 byte   flags: 1 = last frame of this slot
 *    …        data (at most FRAME_DATA_BYTES)
 */
import type { AttachmentSlot } from './attachment-store.js';

export const FRAME_HEADER_BYTES = 18;
export const FRAME_DATA_BYTES = 256 * 1024;

export interface AttachmentFrame {
  requestId: string;
  slot: AttachmentSlot;
  last: boolean;
  data: Uint8Array;
}

const uuidToBytes = (uuid: string): Buffer => Buffer.from(uuid.replace(/-/g, ''), 'hex');
const bytesToUuid = (b: Uint8Array): string => {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export function encodeAttachmentFrame(frame: AttachmentFrame): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  uuidToBytes(frame.requestId).copy(header, 0);
  header[16] = frame.slot === 'image' ? 0 : 1;
  header[17] = frame.last ? 1 : 0;
  return Buffer.concat([header, frame.data]);
}

export function decodeAttachmentFrame(buf: Buffer): AttachmentFrame | undefined {
  if (buf.length < FRAME_HEADER_BYTES || buf.length > FRAME_HEADER_BYTES + FRAME_DATA_BYTES) return undefined;
  const slotByte = buf[16];
  if (slotByte !== 0 && slotByte !== 1) return undefined;
  return {
    requestId: bytesToUuid(buf.subarray(0, 16)),
    slot: slotByte === 0 ? 'image' : 'document',
    last: (buf[17]! & 1) === 1,
    data: buf.subarray(FRAME_HEADER_BYTES),
  };
}
