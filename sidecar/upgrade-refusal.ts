/**
 * Refuses an HTTP upgrade (a WebSocket handshake) with a bare status line, in one place. A bare
 * end() would leave the socket half-open for as long as the peer (which may keep sending frames)
 * cares to hold it; destroying at once, with its bytes unread, turns the close into a reset that
 * can swallow the answer. So: discard what it sends, answer, and destroy after a moment.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function abortHandshake(socket: Duplex, status: number): void {
  socket.on('error', () => undefined);
  socket.resume();
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  setTimeout(() => socket.destroy(), 1_000).unref();
}
