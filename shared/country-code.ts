/**
 * WHATSAPP_DEFAULT_COUNTRY as config reads it: a region code libphonenumber-js knows. Only its
 * metadata is needed for that, not the library (config is loaded by the sidecar too).
 */
import type { CountryCode } from 'libphonenumber-js/min';
import metadata from 'libphonenumber-js/min/metadata';

export type { CountryCode };

/** `in` → `IN`; anything libphonenumber does not know → undefined (config refuses it by name). */
export function parseCountry(text: string): CountryCode | undefined {
  const upper = text.trim().toUpperCase();
  return Object.hasOwn(metadata.countries, upper) ? (upper as CountryCode) : undefined;
}
