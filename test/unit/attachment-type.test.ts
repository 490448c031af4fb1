import { SNIFF_BYTES, documentMimeType, sniffImageType } from '../../shared/attachment-type.js';

const bytes = (...parts: Array<string | number[]>): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? Array.from(Buffer.from(p, 'latin1')) : p)));

const PNG = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d], 'IHDR');
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF', [0]);
const WEBP = bytes('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 ');
const WAVE = bytes('RIFF', [0x24, 0, 0, 0], 'WAVEfmt ');
const PDF = bytes('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n');
const GIF = bytes('GIF89a', [1, 0, 1, 0]);
const ZIP = bytes('PK', [3, 4, 20, 0, 0, 0, 8, 0]);
const TEXT = bytes('hello, world; this is plain text\n');

test('SNIFF_BYTES covers the longest signature', () => {
  expect(SNIFF_BYTES).toBeGreaterThanOrEqual(12);
});

describe('sniffImageType', () => {
  test.each([
    ['PNG', PNG, 'image/png'],
    ['JPEG', JPEG, 'image/jpeg'],
    ['bare JPEG SOI + marker', bytes([0xff, 0xd8, 0xff]), 'image/jpeg'],
    ['WebP', WEBP, 'image/webp'],
  ])('%s is recognised by its magic bytes', (_name, head, type) => {
    expect(sniffImageType(head)).toBe(type);
  });

  test.each([
    ['plain text (e.g. a .txt renamed .jpg)', TEXT],
    ['a RIFF that is WAVE, not WEBP', WAVE],
    ['PDF', PDF],
    ['GIF (not an accepted image type)', GIF],
    ['empty', new Uint8Array()],
    ['truncated PNG signature', PNG.subarray(0, 7)],
    ['truncated WebP header', WEBP.subarray(0, 11)],
    ['JPEG signature not at offset 0', bytes([0], [0xff, 0xd8, 0xff])],
  ])('%s is not an image', (_name, head) => {
    expect(sniffImageType(head)).toBeUndefined();
  });

  test('works on a Buffer (a Uint8Array) as read from a file handle', () => {
    expect(sniffImageType(Buffer.from(PNG))).toBe('image/png');
  });
});

describe('documentMimeType', () => {
  test('a PNG renamed .pdf is reported as image/png', async () => {
    expect(sniffImageType(PNG)).toBe('image/png');
    expect(await documentMimeType(PNG, 'invoice.pdf')).toBe('image/png');
  });

  test('a text file renamed .jpg is not an image, and is not reported as one', async () => {
    expect(sniffImageType(TEXT)).toBeUndefined();
    expect(await documentMimeType(TEXT, 'photo.jpg')).toBe('application/octet-stream');
  });

  test.each([
    ['PDF bytes, no extension', PDF, 'report', 'application/pdf'],
    ['PDF bytes, wrong extension', PDF, 'report.txt', 'application/pdf'],
    ['JPEG bytes', JPEG, 'x.bin', 'image/jpeg'],
    ['WebP bytes', WEBP, 'sticker', 'image/webp'],
    ['GIF bytes', GIF, 'anim.dat', 'image/gif'],
    ['ZIP bytes, .zip', ZIP, 'bundle.zip', 'application/zip'],
    ['ZIP bytes, no extension', ZIP, 'bundle', 'application/zip'],
    ['ZIP bytes, .pdf (the name lies)', ZIP, 'bundle.pdf', 'application/zip'],
    ['ZIP bytes, .docx', ZIP, 'letter.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['ZIP bytes, .XLSX (case-insensitive)', ZIP, 'SHEET.XLSX', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['ZIP bytes, .pptx', ZIP, 'deck.pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
    ['ZIP bytes, .odt', ZIP, 'letter.odt', 'application/vnd.oasis.opendocument.text'],
    ['empty ZIP archive', bytes('PK', [5, 6]), 'empty.zip', 'application/zip'],
    ['gzip bytes', bytes([0x1f, 0x8b, 8, 0]), 'logs.tar.gz', 'application/gzip'],
  ])('from bytes: %s', async (_name, head, fileName, type) => {
    expect(await documentMimeType(head, fileName)).toBe(type);
  });

  test.each([
    ['prices.csv', 'text/csv'],
    ['PRICES.CSV', 'text/csv'],
    ['notes.txt', 'text/plain'],
    ['data.json', 'application/json'],
    ['feed.xml', 'application/xml'],
    ['page.html', 'text/html'],
    ['README.md', 'text/markdown'],
    ['old.xls', 'application/vnd.ms-excel'],
    ['old.doc', 'application/msword'],
    ['old.ppt', 'application/vnd.ms-powerpoint'],
    ['archive.tar', 'application/x-tar'],
    ['song.mp3', 'audio/mpeg'],
    ['clip.mp4', 'video/mp4'],
    ['voice.ogg', 'audio/ogg'],
    ['beep.wav', 'audio/wav'],
    ['/some/dir.d/report.csv', 'text/csv'],
    ['C:\\dir.d\\report.csv', 'text/csv'],
  ])('from the extension: %s → %s', async (fileName, type) => {
    expect(await documentMimeType(TEXT, fileName)).toBe(type);
  });

  test.each([
    ['unknown extension', 'blob.qqqz'],
    ['no extension', 'blob'],
    ['a dot-file is a name, not an extension', '.csv'],
    ['trailing dot', 'blob.'],
    ['an Object.prototype key as extension', 'x.constructor'],
    ['__proto__ as extension', 'x.__proto__'],
    ['.pdf without %PDF-', 'fake.pdf'],
    ['.png without the PNG signature', 'fake.png'],
    ['.docx without the ZIP signature', 'fake.docx'],
    ['empty name', ''],
  ])('falls back to application/octet-stream: %s', async (_name, fileName) => {
    expect(await documentMimeType(TEXT, fileName)).toBe('application/octet-stream');
  });

  test('an empty file is octet-stream unless its name says a format without a signature', async () => {
    expect(await documentMimeType(new Uint8Array(), 'empty.bin')).toBe('application/octet-stream');
    expect(await documentMimeType(new Uint8Array(), 'empty.txt')).toBe('text/plain');
    expect(await documentMimeType(new Uint8Array(), 'empty.pdf')).toBe('application/octet-stream');
  });
});
