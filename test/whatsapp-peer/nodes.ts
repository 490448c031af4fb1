/**
 * Small helpers for the binary XML nodes (`BinaryNode`) the peer reads and writes: the server's
 * address, typed access to node content, IQ results and the ids of stanzas the peer originates.
 */
import { getBinaryNodeChild, type BinaryNode } from '@whiskeysockets/baileys';

export const S_WHATSAPP_NET = 's.whatsapp.net';

export const toBuf = (c: BinaryNode['content']): Buffer | undefined => {
  if (c === undefined || c === null) return undefined;
  if (typeof c === 'string') return Buffer.from(c, 'utf8');
  if (c instanceof Uint8Array) return Buffer.from(c);
  return undefined;
};

export const childBuf = (node: BinaryNode | undefined, tag: string): Buffer | undefined =>
  node ? toBuf(getBinaryNodeChild(node, tag)?.content) : undefined;

export const children = (node: BinaryNode | undefined): BinaryNode[] => (node && Array.isArray(node.content) ? node.content : []);

/** WhatsApp's `t` attributes are Unix seconds */
export const nowS = (): string => Math.floor(Date.now() / 1000).toString();

/** the `<iq type=result>` answering `iq`, with optional content */
export const iqResult = (iq: BinaryNode, content?: BinaryNode[]): BinaryNode => ({
  tag: 'iq',
  attrs: { from: S_WHATSAPP_NET, type: 'result', id: iq.attrs.id ?? '' },
  ...(content ? { content } : {}),
});

/** ids for stanzas the peer originates (`peer-1`, `peer-2`, …), one sequence per peer */
export type NextTag = () => string;
export const createTagSequence = (): NextTag => {
  let seq = 0;
  return () => `peer-${++seq}`;
};
