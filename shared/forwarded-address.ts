/**
 * Which client a per-address limit counts against, for every listener we run (the local function
 * host, the sidecar's admin page). X-Forwarded-For is trusted only from a loopback peer (a reverse
 * proxy or tunnel on this host), and only its last entry, the one that proxy appended: a client
 * elsewhere cannot pick its own bucket, and clients behind one tunnel do not share one.
 */

/** Loopback names and addresses are reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The last entry of an X-Forwarded-For header: the one the nearest proxy appended. */
export function lastForwardedAddress(header: string | undefined): string | undefined {
  const parts = (header ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return parts.at(-1);
}

/** The socket's peer, or the address its loopback proxy forwarded. */
export function clientAddressOf(socketPeer: string | undefined, forwardedFor: string | undefined): string {
  const peer = (socketPeer ?? 'unknown').replace(/^::ffff:/, '');
  if (!isLoopbackHost(peer)) return peer;
  return lastForwardedAddress(forwardedFor) ?? peer;
}
