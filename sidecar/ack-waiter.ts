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
  /** Forgets this wait: its message never went out. */
  cancel(): void;
}

export interface AckWaiter {
  /**
   * Call before relaying the message, so an ack that comes back fast is not missed. A wait already
   * held for the id (the same message sent again) ends first: one ack cannot answer two sends.
   */
  expect(messageId: string): PendingAck;
  acked(messageId: string, errorCode?: string): void;
  /** Fails every pending wait (the socket closed: their acks will never come on it). */
  failAll(error: string): void;
  pending(): number;
}

interface Wait {
  resolve: (o: AckOutcome) => void;
  timer?: NodeJS.Timeout;
}

export function createAckWaiter(): AckWaiter {
  const waiting = new Map<string, Wait>();
  /** Ends the wait held for `id` (only `only`, when given): a late end of an older wait leaves a newer one be. */
  const settle = (id: string, outcome: AckOutcome, only?: Wait) => {
    const w = waiting.get(id);
    if (!w || (only && w !== only)) return;
    waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(outcome);
  };
  return {
    expect(messageId) {
      settle(messageId, { ok: false, error: 'sent again under the same id' });
      let resolve!: (o: AckOutcome) => void;
      const outcome = new Promise<AckOutcome>((r) => (resolve = r));
      const wait: Wait = { resolve };
      waiting.set(messageId, wait);
      return {
        armed(timeoutMs) {
          if (waiting.get(messageId) === wait && !wait.timer) {
            wait.timer = setTimeout(() => settle(messageId, { ok: false, error: 'no server acknowledgement in time' }, wait), timeoutMs);
          }
          return outcome;
        },
        cancel: () => settle(messageId, { ok: false, error: 'not sent' }, wait),
      };
    },
    acked(messageId, errorCode) {
      settle(
        messageId,
        errorCode ? { ok: false, error: `WhatsApp refused the message (error ${errorCode})`, code: errorCode } : { ok: true },
      );
    },
    failAll(error) {
      for (const id of [...waiting.keys()]) settle(id, { ok: false, error });
    },
    pending: () => waiting.size,
  };
}
