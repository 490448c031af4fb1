/**
 * Failures tests inject, answered the way WhatsApp answers them: error codes on message acks (and
 * 479 for a number that is not on WhatsApp), acks that never come, and refused logins. Disconnects
 * are in disconnect.ts.
 */
import type { Account, Accounts } from './accounts.js';

export class Faults {
  /** key: destination phone jid (or the jid as given, for an unknown number) */
  private readonly ackErrors = new Map<string, string>();
  private loginFailures: { code: number; times: number } | undefined;
  /** when on, messages get no ack and no receipts at all */
  dropAcks = false;

  constructor(private readonly accounts: Accounts) {}

  failAcks(jid: string, errorCode: number | string): void {
    const acc = this.accounts.of(jid);
    this.ackErrors.set(acc ? acc.jid : jid, String(errorCode));
  }

  clearFailAcks(jid?: string): void {
    if (!jid) this.ackErrors.clear();
    else this.ackErrors.delete(this.accounts.of(jid)?.jid ?? jid);
  }

  /** the error the ack of a message to `to` carries: an injected code, else 479 when not on WhatsApp */
  ackErrorFor(dest: Account | undefined, to: string): string | undefined {
    return this.ackErrors.get(dest?.jid ?? to) ?? (dest?.onWhatsApp ? undefined : '479');
  }

  failNextLogin(code: number, times = 1): void {
    this.loginFailures = { code, times };
  }

  /** the failure code for this login, using up one of the injected failures */
  takeLoginFailure(): number | undefined {
    if (!this.loginFailures || this.loginFailures.times <= 0) return undefined;
    this.loginFailures.times--;
    return this.loginFailures.code;
  }
}
