/**
 * Phone numbers as the contract defines them: digits with an optional leading `+`, after removing
 * spaces, `-`, `.`, `(` and `)`; 7–15 digits, not starting with 0 (the country code is required);
 * and a possible number for the country its code names. The length rules per country come from
 * libphonenumber-js with its `min` metadata: possible-number checks need only lengths, and the
 * small bundle keeps the function's cold start down (every request path imports this file). JIDs and
 * masking are in whatsapp-jid.ts, the default country's check in country-code.ts: the sidecar needs
 * those without this.
 */
import { getCountryCallingCode, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import metadata from 'libphonenumber-js/min/metadata';

/** Why a number was refused. `number` is set when the message should quote it (the API does; the CLI does not). */
export type PhoneResult = { ok: true; digits: string } | { ok: false; reason: string; number?: string };

export interface PhoneRules {
  /** WHATSAPP_DEFAULT_COUNTRY: a number not possible as written but valid nationally here gets this country's code. */
  defaultCountry?: CountryCode;
}

const SEPARATORS = /[\s\-.()]/g;

/** The form every message shows; an Indian mobile with its 91, as in the contract. */
export const PHONE_EXAMPLE = '919876543210';

/** `+98 (IR)`; for a shared code the main country (`+1 (US)`); a non-geographic code alone (`+800`). */
function describeCallingCode(callingCode: string, country: CountryCode | undefined): string {
  // '001' is how the metadata names a non-geographic code (+800, +882…).
  const main: string | undefined = country ?? metadata.country_calling_codes[callingCode]?.[0];
  return main === undefined || main === '001' ? `+${callingCode}` : `+${callingCode} (${main})`;
}

export function normalisePhone(input: unknown, rules: PhoneRules = {}): PhoneResult {
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

  const international = parsePhoneNumberFromString(`+${digits}`);
  if (international?.isPossible()) return { ok: true, digits };

  if (rules.defaultCountry !== undefined) {
    const national = parsePhoneNumberFromString(digits, rules.defaultCountry);
    if (national?.isValid() && national.countryCallingCode === getCountryCallingCode(rules.defaultCountry)) {
      return { ok: true, digits: `${national.countryCallingCode}${national.nationalNumber}` };
    }
  }
  const include = `include the country code, e.g. ${PHONE_EXAMPLE}`;
  if (international === undefined) {
    return { ok: false, number: digits, reason: `does not start with a known country code; ${include}` };
  }
  const where = describeCallingCode(international.countryCallingCode, international.country);
  return { ok: false, number: digits, reason: `is not a possible number for ${where}; ${include}` };
}

/** `phones[2] 9876543210 is not a possible number for +98 (IR); …` — the API's form, quoting what the caller sent. */
export function describePhoneProblem(field: string, result: Extract<PhoneResult, { ok: false }>): string {
  return result.number === undefined ? `${field} ${result.reason}` : `${field} ${result.number} ${result.reason}`;
}
