/** What each recipient receives, in the contract's order. */
import type { NotificationContent } from '../../shared/sidecar-protocol.js';
import { messageParts } from '../../sidecar/message-parts.js';

const image = { mimetype: 'image/png', byteLength: 10, fileName: 'chart.png' };
const document = { mimetype: 'application/pdf', byteLength: 10, fileName: 'Report.pdf' };

describe('message parts', () => {
  test('text, then the image with its caption, then the document', () => {
    const parts = messageParts({ message: 'hi', image, document, caption: 'chart' } satisfies NotificationContent);
    expect(parts.map((p) => p.kind)).toEqual(['text', 'image', 'document']);
    expect(parts[1]).toEqual({ kind: 'image', mimetype: 'image/png', caption: 'chart' });
    expect(parts[2]).toEqual({ kind: 'document', fileName: 'Report.pdf', mimetype: 'application/pdf' });
  });

  test('a document with a caption and no image sends the caption as a follow-up text', () => {
    const parts = messageParts({ document, caption: 'see attached' } satisfies NotificationContent);
    expect(parts).toEqual([
      { kind: 'document', fileName: 'Report.pdf', mimetype: 'application/pdf' },
      { kind: 'text', text: 'see attached' },
    ]);
  });

  test('text alone is one part', () => {
    expect(messageParts({ message: 'Stop-loss hit' } satisfies NotificationContent)).toEqual([{ kind: 'text', text: 'Stop-loss hit' }]);
  });
});
