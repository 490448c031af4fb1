/**
 * Table properties hold at most 64 KiB each, so a larger value is split across numbered binary
 * properties `d0`, `d1`, … of one entity. An entity may be 1 MiB on the wire, where binary travels
 * as base64 (4/3 larger): 10 chunks (640 KiB) leave room for that and the other properties.
 */
export const CHUNK_BYTES = 64 * 1024;
export const MAX_CHUNKED_BYTES = 10 * CHUNK_BYTES;

export function toChunkProperties(data: Uint8Array): Record<string, Uint8Array | number> {
  if (data.byteLength > MAX_CHUNKED_BYTES) throw new Error(`value of ${data.byteLength} bytes is too large for one entity`);
  const props: Record<string, Uint8Array | number> = { chunks: Math.ceil(data.byteLength / CHUNK_BYTES) };
  for (let i = 0, n = 0; i < data.byteLength; i += CHUNK_BYTES, n++) props[`d${n}`] = data.subarray(i, i + CHUNK_BYTES);
  return props;
}

export function fromChunkProperties(entity: Record<string, unknown>): Uint8Array {
  const count = typeof entity.chunks === 'number' ? entity.chunks : 0;
  const parts: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const part = entity[`d${n}`];
    if (!(part instanceof Uint8Array)) throw new Error(`chunk d${n} is missing`);
    parts.push(part);
  }
  return Buffer.concat(parts);
}
