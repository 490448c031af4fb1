/**
 * Turns `image_path` / `document_path` into opened, checked files ready to stream: the allowlist
 * (uniform 400), the size caps (413), the image's real type from its bytes (400 unless JPEG, PNG
 * or WebP) and the document's MIME type. The handles stay open until the bytes have been sent or
 * stored; `close()` releases them whatever happened.
 */
import type { FileHandle } from 'node:fs/promises';
import { SNIFF_BYTES, documentMimeType, sniffImageType } from '../shared/attachment-type.js';
import type { AttachmentSlot, AttachmentStore } from '../shared/attachment-store.js';
import type { NotifyRequest } from '../shared/notify-request-schema.js';
import type { AttachmentDescriptor, NotificationContent } from '../shared/sidecar-protocol.js';
import { FRAME_DATA_BYTES } from '../shared/attachment-frames.js';
import type { AttachmentAllowlist, AttachmentField } from './attachment-allowlist.js';
import { fileChunks } from './file-chunks.js';
import { attachmentNotAllowed, badRequest, tooLarge } from './http-errors.js';

export interface PreparedAttachment {
  slot: AttachmentSlot;
  handle: FileHandle;
  size: number;
}

export interface PreparedContent {
  content: NotificationContent;
  attachments: PreparedAttachment[];
  close(): Promise<void>;
}

export interface AttachmentPreparer {
  prepare(request: NotifyRequest): Promise<PreparedContent>;
  /** Stores the bytes durably under the notification id (used when the sidecar is unreachable). */
  persist(notificationId: string, attachments: PreparedAttachment[]): Promise<void>;
}

const mib = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;

export function createAttachmentPreparer(deps: {
  allowlist: () => Promise<AttachmentAllowlist>;
  store: AttachmentStore;
  caps: { image: number; document: number };
}): AttachmentPreparer {
  const openChecked = async (field: AttachmentField, requested: string, cap: number) => {
    const opened = await (await deps.allowlist()).open(field, requested);
    if (!opened.ok) throw attachmentNotAllowed(field);
    if (opened.size > cap) {
      await opened.handle.close();
      throw tooLarge(`${field} is larger than the ${mib(cap)} limit`, field);
    }
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, opened.size));
    await opened.handle.read(head, 0, head.length, 0);
    return { ...opened, head };
  };

  return {
    async prepare(request) {
      const content: NotificationContent = {
        ...(request.message !== undefined ? { message: request.message } : {}),
        ...(request.caption !== undefined ? { caption: request.caption } : {}),
      };
      const attachments: PreparedAttachment[] = [];
      const close = async () => {
        await Promise.all(attachments.map((a) => a.handle.close().catch(() => undefined)));
      };
      try {
        if (request.imagePath !== undefined) {
          const image = await openChecked('image_path', request.imagePath, deps.caps.image);
          attachments.push({ slot: 'image', handle: image.handle, size: image.size });
          const mimetype = sniffImageType(image.head);
          if (!mimetype) throw badRequest('image_path', 'image_path must be a JPEG, PNG or WebP image');
          content.image = { byteLength: image.size, mimetype, fileName: image.baseName } satisfies AttachmentDescriptor;
        }
        if (request.documentPath !== undefined) {
          const doc = await openChecked('document_path', request.documentPath, deps.caps.document);
          attachments.push({ slot: 'document', handle: doc.handle, size: doc.size });
          const fileName = request.filename ?? doc.baseName;
          content.document = { byteLength: doc.size, mimetype: await documentMimeType(doc.head, fileName), fileName };
        }
      } catch (error) {
        await close();
        throw error;
      }
      return { content, attachments, close };
    },

    async persist(notificationId, attachments) {
      for (const a of attachments) {
        const writer = deps.store.writer(notificationId, a.slot);
        for await (const chunk of fileChunks(a.handle, a.size, FRAME_DATA_BYTES)) await writer.write(chunk);
        await writer.finish();
      }
    },
  };
}
