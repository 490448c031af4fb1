/**
 * The body of POST /api/v1/whatsapp/notify, parsed once. Every rule of the contract's field table
 * lives here; the handler trusts the parsed type afterwards.
 */
import { z } from 'zod';
import { normalisePhone, type PhoneRules } from './phone-number.js';

export const MAX_RECIPIENTS = 5;
export const MAX_PHONES_IN_REQUEST = 100;
export const MAX_MESSAGE_CODE_POINTS = 4096;
export const MAX_CAPTION_CODE_POINTS = 1024;

const codePoints = (text: string): number => {
  let n = 0;
  for (const _ of text) n++;
  return n;
};

const typeError = (expected: string) => (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : `must be ${expected}`);

const phoneNumber = (rules: PhoneRules) =>
  z.union([z.string(), z.number()], { error: typeError('a string or an integer') }).transform((value, ctx) => {
    const result = normalisePhone(value, rules);
    if (!result.ok) {
      // The caller's own number is quoted so the message shows what was read (`phone 9876543210 is not …`).
      ctx.addIssue({ code: 'custom', message: result.number === undefined ? result.reason : `${result.number} ${result.reason}` });
      return z.NEVER;
    }
    return result.digits;
  });

const attachmentPath = z.string({ error: typeError('a string') }).min(1, 'must not be empty');

// Whitespace-only text counts as absent (contract), so it becomes undefined before the length rule.
const message = z
  .string({ error: typeError('a string') })
  .transform((text) => (text.trim() === '' ? undefined : text))
  .refine((text) => text === undefined || codePoints(text) <= MAX_MESSAGE_CODE_POINTS, {
    message: `must be at most ${MAX_MESSAGE_CODE_POINTS} characters`,
  });

const notifyFields = (rules: PhoneRules) => ({
  apikey: z.string({ error: typeError('a string') }).optional(),
  self: z.boolean({ error: typeError('a boolean') }).optional(),
  username: z
    .string({ error: typeError('a string') })
    .refine((u) => codePoints(u) >= 1 && codePoints(u) <= 64, { message: 'must be 1 to 64 characters' })
    .optional(),
  phone: phoneNumber(rules).optional(),
  phones: z
    .array(phoneNumber(rules), { error: typeError('an array of phone numbers') })
    .min(1, 'must list at least one phone number')
    .max(MAX_PHONES_IN_REQUEST, `must list at most ${MAX_PHONES_IN_REQUEST} phone numbers`)
    .optional(),
  message: message.optional(),
  image_path: attachmentPath.optional(),
  document_path: attachmentPath.optional(),
  caption: z
    .string({ error: typeError('a string') })
    .refine((c) => codePoints(c) <= MAX_CAPTION_CODE_POINTS, { message: `must be at most ${MAX_CAPTION_CODE_POINTS} characters` })
    .optional(),
  filename: z
    .string({ error: typeError('a string') })
    .refine((f) => f.length >= 1 && codePoints(f) <= 255, { message: 'must be 1 to 255 characters' })
    // eslint-disable-next-line no-control-regex
    .refine((f) => !/[/\\\u0000-\u001f\u007f]/.test(f), { message: 'must not contain /, \\ or control characters' })
    .optional(),
  wait_for_delivery: z.boolean({ error: typeError('a boolean') }).optional(),
  idempotency_key: z
    .string({ error: typeError('a string') })
    .min(1, 'must not be empty')
    // Code points, like every length here and like JSON Schema's maxLength in the OpenAPI document.
    .refine((k) => codePoints(k) <= 128, { message: 'must be at most 128 characters' })
    .optional(),
});

const FIELD_NAMES = Object.keys(notifyFields({}));

function buildNotifyBodySchema(rules: PhoneRules) {
  return z.object(notifyFields(rules)).superRefine((body, ctx) => {
    const forms = [body.self === true, body.username !== undefined, body.phone !== undefined, body.phones !== undefined];
    const count = forms.filter(Boolean).length;
    if (count !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['recipient'],
        message:
          count === 0
            ? 'is required: give exactly one of self, username, phone or phones'
            : 'must be exactly one of self, username, phone or phones, not several',
      });
    }
    const hasAttachment = body.image_path !== undefined || body.document_path !== undefined;
    if (body.message === undefined && !hasAttachment) {
      ctx.addIssue({ code: 'custom', path: ['message'], message: 'is required unless image_path or document_path is set' });
    }
    if (body.caption !== undefined && !hasAttachment) {
      ctx.addIssue({ code: 'custom', path: ['caption'], message: 'needs image_path or document_path' });
    }
    if (body.filename !== undefined && body.document_path === undefined) {
      ctx.addIssue({ code: 'custom', path: ['filename'], message: 'needs document_path' });
    }
  });
}

/** The schema without a default country: what OpenAPI documents. */
export const notifyBodySchema = buildNotifyBodySchema({});
const schemaByCountry = new Map<string, typeof notifyBodySchema>();

/** One schema per default country (configuration has one), built on first use. */
function notifyBodySchemaFor(rules: PhoneRules): typeof notifyBodySchema {
  if (rules.defaultCountry === undefined) return notifyBodySchema;
  let schema = schemaByCountry.get(rules.defaultCountry);
  if (!schema) schemaByCountry.set(rules.defaultCountry, (schema = buildNotifyBodySchema(rules)));
  return schema;
}

export type RecipientSelector = { kind: 'self' } | { kind: 'username'; username: string } | { kind: 'phones'; phones: string[] };

export interface NotifyRequest {
  recipient: RecipientSelector;
  /** Distinct recipients trimmed by the 5-recipient cap. */
  skipped: number;
  message?: string;
  imagePath?: string;
  documentPath?: string;
  caption?: string;
  filename?: string;
  waitForDelivery: boolean;
  idempotencyKey?: string;
}

export type NotifyParseResult = { ok: true; request: NotifyRequest } | { ok: false; field: string; message: string };

/** `['phones', 2]` → `phones[2]`. */
export function fieldName(path: ReadonlyArray<PropertyKey>): string {
  let name = '';
  for (const part of path) {
    if (typeof part === 'number') name += `[${part}]`;
    else name += name === '' ? String(part) : `.${String(part)}`;
  }
  return name === '' ? 'body' : name;
}

function knownFieldsWithoutNulls(body: Record<string, unknown>): Record<string, unknown> {
  // Unknown fields are ignored (contract), which also keeps `__proto__` and friends out of reach.
  // A client that serialises unused fields as null (Python's None) means "absent".
  const out: Record<string, unknown> = Object.create(null);
  for (const key of FIELD_NAMES) {
    if (Object.hasOwn(body, key) && body[key] !== null) out[key] = body[key];
  }
  return out;
}

export function parseNotifyBody(body: unknown, rules: PhoneRules = {}): NotifyParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, field: 'body', message: 'body must be a JSON object' };
  }
  const parsed = notifyBodySchemaFor(rules).safeParse(knownFieldsWithoutNulls(body as Record<string, unknown>));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldName(issue.path);
    return { ok: false, field, message: `${field} ${issue.message}` };
  }
  const b = parsed.data;
  let recipient: RecipientSelector;
  let skipped = 0;
  if (b.self === true) recipient = { kind: 'self' };
  else if (b.username !== undefined) recipient = { kind: 'username', username: b.username };
  else {
    const distinct = [...new Set(b.phones ?? [b.phone!])];
    skipped = Math.max(distinct.length - MAX_RECIPIENTS, 0);
    recipient = { kind: 'phones', phones: distinct.slice(0, MAX_RECIPIENTS) };
  }
  return {
    ok: true,
    request: {
      recipient,
      skipped,
      message: b.message,
      imagePath: b.image_path,
      documentPath: b.document_path,
      caption: b.caption,
      filename: b.filename,
      waitForDelivery: b.wait_for_delivery ?? false,
      idempotencyKey: b.idempotency_key,
    },
  };
}
