/**
 * The WhatsApp accounts the peer hosts: the own phone ("self") and the contacts tests add, each
 * with a phone jid, a random LID and real Signal keys (one device, 0). Looked up by phone, phone
 * jid or LID.
 */
import { randomInt } from 'node:crypto';
import { jidDecode } from '@whiskeysockets/baileys';
import { S_WHATSAPP_NET } from './nodes.js';
import { SignalKeys } from './signal-keys.js';

export interface Account {
  phone: string;
  jid: string;
  lidUser: string;
  lid: string;
  onWhatsApp: boolean;
  keys: SignalKeys;
}

export interface Contact {
  phone: string;
  jid: string;
  lid: string;
  onWhatsApp: boolean;
}

export const digitsOnly = (s: string): string => s.replace(/\D/g, '');
const randomLidUser = (): string => String(randomInt(1, 9)) + String(randomInt(0, 1e14)).padStart(14, '0');

export const asContact = (acc: Account): Contact => ({ phone: acc.phone, jid: acc.jid, lid: acc.lid, onWhatsApp: acc.onWhatsApp });

export class Accounts {
  /** key: phone digits and LID user, both pointing at the same account */
  private readonly byUser = new Map<string, Account>();
  readonly self: Account;

  constructor(selfPhone: string) {
    this.self = this.add(selfPhone, true);
  }

  /** adds an account, or sets `onWhatsApp` of the existing one (its keys and LID stay) */
  add(phone: string, onWhatsApp: boolean): Account {
    const p = digitsOnly(phone);
    if (!p) throw new Error(`invalid phone ${phone}`);
    const existing = this.byUser.get(p);
    if (existing) {
      existing.onWhatsApp = onWhatsApp;
      return existing;
    }
    const lidUser = randomLidUser();
    const acc: Account = {
      phone: p,
      jid: `${p}@${S_WHATSAPP_NET}`,
      lidUser,
      lid: `${lidUser}@lid`,
      onWhatsApp,
      keys: new SignalKeys(),
    };
    this.byUser.set(p, acc);
    this.byUser.set(lidUser, acc);
    return acc;
  }

  /** the account of a jid (any device, phone or LID) or of a phone number */
  of(jidOrPhone: string | undefined): Account | undefined {
    if (!jidOrPhone) return undefined;
    if (jidOrPhone.includes('@')) {
      const d = jidDecode(jidOrPhone);
      return d?.user ? this.byUser.get(d.user) : undefined;
    }
    return this.byUser.get(digitsOnly(jidOrPhone));
  }
}
