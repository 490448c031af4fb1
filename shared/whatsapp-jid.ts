/**
 * Phone digits ↔ WhatsApp JIDs, and the masked form logs use. Kept apart from phone-number.ts, whose
 * libphonenumber-js rules only the request paths need: the sidecar logs and addresses numbers
 * without loading them (about 1.4 MiB of heap it held from its first second).
 */

export function phoneToJid(digits: string): string {
  return `${digits}@s.whatsapp.net`;
}

/** `919876543210@s.whatsapp.net` (or `…:12@…`) → `919876543210`: the form the API reads and reports. */
export function jidToPhone(jid: string): string {
  return jid.replace(/@.*$/, '').replace(/:\d+$/, '');
}

/** `919876543210` → `91987****210`, for logs. */
export function maskPhone(value: string): string {
  const digits = jidToPhone(value);
  if (digits.length <= 6) return '*'.repeat(digits.length);
  return `${digits.slice(0, 5)}${'*'.repeat(Math.max(digits.length - 8, 1))}${digits.slice(-3)}`;
}
