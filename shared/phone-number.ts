/**
 * Phone numbers as the contract defines them: digits with an optional leading `+`, after removing
 * spaces, `-`, `.`, `(` and `)`; 7–15 digits, not starting with 0 (the country code is required).
 */
export type PhoneResult = { ok: true; digits: string } | { ok: false; reason: string };

const SEPARATORS = /[\s\-.()]/g;

export function normalisePhone(input: unknown): PhoneResult {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) return { ok: false, reason: 'must be a whole number of 7 to 15 digits' };
    text = String(input);
  } else if (typeof input === 'string') {
    text = input.replace(SEPARATORS, '');
  } else {
    return { ok: false, reason: 'must be a string or an integer' };
  }
  const digits = text.startsWith('+') ? text.slice(1) : text;
  if (!/^[0-9]+$/.test(digits)) return { ok: false, reason: 'must contain only digits, with an optional leading +' };
  if (digits.length < 7 || digits.length > 15) return { ok: false, reason: 'must have 7 to 15 digits including the country code' };
  if (digits.startsWith('0')) return { ok: false, reason: 'must start with the country code, not 0' };
  return { ok: true, digits };
}

export function phoneToJid(digits: string): string {
  return `${digits}@s.whatsapp.net`;
}

/** `919876543210` → `91987****210`, for logs. */
export function maskPhone(value: string): string {
  const digits = value.replace(/@.*$/, '').replace(/:\d+$/, '');
  if (digits.length <= 6) return '*'.repeat(digits.length);
  return `${digits.slice(0, 5)}${'*'.repeat(Math.max(digits.length - 8, 1))}${digits.slice(-3)}`;
}
