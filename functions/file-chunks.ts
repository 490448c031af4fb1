import type { FileHandle } from 'node:fs/promises';

/**
 * Reads an open file from the start in fixed-size chunks, exactly `size` bytes (the size checked
 * against the cap), so a file that grows meanwhile cannot smuggle in more. A file that shrank
 * ends early; the receiver sees the short length.
 */
export async function* fileChunks(handle: FileHandle, size: number, chunkBytes: number): AsyncGenerator<Buffer> {
  let position = 0;
  while (position < size) {
    const want = Math.min(chunkBytes, size - position);
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buffer, 0, want, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
  }
}
