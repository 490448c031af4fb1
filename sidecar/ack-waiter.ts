/**
 * Pairs each sent message id with WhatsApp's server `<ack class="message">` for it. A plain ack
 * means the server accepted the message; an ack with `error` (463, 479, …) means it refused it.
 * Baileys raises no event for a plain ack, so the session feeds raw ack nodes in here.
 */
export type AckOutcome = { ok: true } | { ok: false; error: string; code?: string };

export interface PendingAck {
  /**
   * The outcome, given up on `timeoutMs` from now. Armed once the message is relayed, not when the
   * wait begins: a media upload before the relay can take longer than the server takes to ack.
   */
  armed(timeoutMs: number): Promise<AckOutcome>;
}

export interface AckWaiter {
  /** Call before relaying the message, so an ack that comes back fast is not missed. */
  expect(messageId: string): PendingAck;
  acked(messageId: string, errorCode?: string): void;
  /** Forgets a wait whose message never went out. */
  cancel(messageId: string): void;
  /** Fails every pending wait (the socket closed: their acks will never come on it). */
  failAll(error: string): void;
  pending(): number;
}

export function createAckWaiter(): AckWaiter {
  const waiting = new Map<string, { resolve: (o: AckOutcome) => void; timer?: NodeJS.Timeout }>();
  const settle = (id: string, outcome: AckOutcome) => {
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(outcome);
  };
  return {
    expect(messageId) {
      let resolve!: (o: AckOutcome) => void;
      const outcome = new Promise<AckOutcome>((r) => (resolve = r));
      const wait: { resolve: (o: AckOutcome) => void; timer?: NodeJS.Timeout } = { resolve };
      waiting.set(messageId, wait);
      return {
        armed(timeoutMs) {
          if (waiting.get(messageId) === wait) {
            wait.timer = setTimeout(() => settle(messageId, { ok: false, error: 'no server acknowledgement in time' }), timeoutMs);
          }
          return outcome;
        },
      };
    },
    acked(messageId, errorCode) {
      settle(
        messageId,
        errorCode ? { ok: false, error: `WhatsApp refused the message (error ${errorCode})`, code: errorCode } : { ok: true },
      );
    },
    cancel(messageId) {
      settle(messageId, { ok: false, error: 'not sent' });
    },
    failAll(error) {
      for (const id of [...waiting.keys()]) settle(id, { ok: false, error });
    },
    pending: () => waiting.size,
  };
}
