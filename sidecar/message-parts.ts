/**
 * What is sent to each recipient, in the contract's order: the text; the image with its caption;
 * the document with its file name and MIME type; then, when there is a document and a caption but
 * no image, the caption as a follow-up text.
 */
import type { NotificationContent } from '../shared/sidecar-protocol.js';

export type MessagePart =
  | { kind: 'text'; text: string }
  | { kind: 'image'; caption?: string; mimetype: string }
  | { kind: 'document'; fileName: string; mimetype: string };

export function messageParts(content: NotificationContent): MessagePart[] {
  const parts: MessagePart[] = [];
  if (content.message !== undefined) parts.push({ kind: 'text', text: content.message });
  if (content.image)
    parts.push({ kind: 'image', mimetype: content.image.mimetype, ...(content.caption !== undefined ? { caption: content.caption } : {}) });
  if (content.document) parts.push({ kind: 'document', fileName: content.document.fileName, mimetype: content.document.mimetype });
  if (content.document && !content.image && content.caption !== undefined) parts.push({ kind: 'text', text: content.caption });
  return parts;
}
