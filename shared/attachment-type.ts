/**
 * What an attachment is, from its first bytes. `image_path` must really be a JPEG, PNG or WebP
 * (CONTRACT.md), whatever its name says; a document's MIME type comes from its bytes where the
 * signature is unambiguous and from its name otherwise.
 */

/** Enough head bytes for every signature below (WebP needs 12). */
export const SNIFF_BYTES = 16;

export type ImageMimeType = 'image/jpeg' | 'image/png' | 'image/webp';

const OCTET_STREAM = 'application/octet-stream';

function startsWith(head: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (head.length < offset + signature.length) return false;
  return signature.every((byte, i) => head[offset + i] === byte);
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

const JPEG = [0xff, 0xd8, 0xff];
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const RIFF = ascii('RIFF');
const WEBP = ascii('WEBP');
const PDF = ascii('%PDF-');
const GIF87 = ascii('GIF87a');
const GIF89 = ascii('GIF89a');
// Local file header, empty archive, spanned archive.
const ZIPS = [
  [0x50, 0x4b, 0x03, 0x04],
  [0x50, 0x4b, 0x05, 0x06],
  [0x50, 0x4b, 0x07, 0x08],
];
const GZIP = [0x1f, 0x8b];

export function sniffImageType(head: Uint8Array): ImageMimeType | undefined {
  if (startsWith(head, JPEG)) return 'image/jpeg';
  if (startsWith(head, PNG)) return 'image/png';
  if (startsWith(head, RIFF) && startsWith(head, WEBP, 8)) return 'image/webp';
  return undefined;
}

/**
 * Extension → MIME type from mime-types (the mime-db table), loaded on the first document only:
 * its table is a large JSON parse the function's cold start should not pay for a text message.
 */
let byExtension: ((ext: string) => string | false) | undefined;
async function lookupExtension(ext: string): Promise<string | undefined> {
  byExtension ??= (await import('mime-types')).lookup;
  // `lookup('constructor')` must not find Object.prototype.constructor: mime-types guards that.
  return (ext && byExtension(ext)) || undefined;
}

// Formats that are ZIP archives inside: the bytes say "zip", only the name says which.
const ZIP_BASED = new Set(['docx', 'xlsx', 'pptx', 'odt', 'ods', 'odp', 'epub', 'apk', 'jar', 'zip']);

// Extensions whose signature we check: a name claiming one of these over bytes that lack the
// signature is wrong, and a wrong specific type is worse than an honest octet-stream.
const VERIFIABLE = new Set(['pdf', 'png', 'jpg', 'jpeg', 'webp', 'gif', 'gz', 'tgz', ...ZIP_BASED]);

function extensionOf(fileName: string): string {
  const base = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  // `.bashrc` is a name, not an extension.
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

export async function documentMimeType(head: Uint8Array, fileName: string): Promise<string> {
  const ext = extensionOf(fileName);
  const image = sniffImageType(head);
  if (image) return image;
  if (startsWith(head, PDF)) return 'application/pdf';
  if (startsWith(head, GIF87) || startsWith(head, GIF89)) return 'image/gif';
  if (ZIPS.some((sig) => startsWith(head, sig))) {
    return (ZIP_BASED.has(ext) && (await lookupExtension(ext))) || 'application/zip';
  }
  if (startsWith(head, GZIP)) return 'application/gzip';
  if (VERIFIABLE.has(ext)) return OCTET_STREAM;
  return (await lookupExtension(ext)) ?? OCTET_STREAM;
}
