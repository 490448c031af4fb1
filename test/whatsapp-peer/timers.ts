/**
 * The peer's own timers (delayed acks and receipts, IQ and pairing timeouts), tracked so that
 * `peer.close()` can clear every one of them and leave nothing to keep the process alive.
 */
export class PeerTimers {
  private readonly pending = new Set<NodeJS.Timeout>();

  /** runs `fn` after `ms` unless cancelled (the returned function) or the peer closes first */
  later(ms: number, fn: () => void): () => void {
    const t = setTimeout(() => {
      this.pending.delete(t);
      fn();
    }, ms);
    this.pending.add(t);
    return () => {
      clearTimeout(t);
      this.pending.delete(t);
    };
  }

  clearAll(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}
