/**
 * The OpenAPI 3.1 document of the REST contract, generated from the zod schemas the handlers use
 * (request: notify-request-schema.ts; responses: notify-response-schema.ts), so the document cannot
 * drift from the code. The local host serves it at /api/openapi.json; `npm run openapi` writes
 * docs/openapi.json, and test/openapi.test.ts fails when the checked-in copy is stale.
 *
 * The request body is written out here instead (notifyRequestComponent): its rules live in zod
 * refinements z.toJSONSchema cannot express. It is built from the same constants, must name every
 * field the zod schema reads, and test/openapi-generated.test.ts checks the service against it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  MAX_CAPTION_CODE_POINTS,
  MAX_MESSAGE_CODE_POINTS,
  MAX_PHONES_IN_REQUEST,
  MAX_RECIPIENTS,
  notifyBodySchema,
} from './notify-request-schema.js';
import {
  deferredBodySchema,
  deliveryReportBodySchema,
  errorBodySchema,
  notificationStatusBodySchema,
  queuedBodySchema,
} from './notify-response-schema.js';

export const OPENAPI_ROUTE = '/api/openapi.json';
/** The contract's version (CONTRACT.md, v1.1), not the package's: the document changes only with the API. */
export const API_VERSION = '1.1.0';

type JsonObject = { [key: string]: unknown };

/** z.toJSONSchema output → an OpenAPI 3.1 component (the document's dialect is 2020-12 already). */
function componentSchemas(schemas: Record<string, z.ZodType>): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  // `input`: no `additionalProperties: false`, so a field added to a response later breaks no validator.
  const generated = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }).schemas as Record<string, JsonObject>;
  const out: Record<string, JsonObject> = {};
  for (const [id, { $schema: _schema, $id: _id, ...rest }] of Object.entries(generated)) out[id] = rest;
  return out;
}

/**
 * Phone numbers that are possible for their country code. Generated requests take their phones
 * from here, since the pattern can say digits and length but not "possible for +98".
 */
export const EXAMPLE_PHONES = ['919876543210', '+44 7700 900123', '+1 (415) 555-0123', 14155550123] as const;

const PHONE_RULE =
  'Digits with an optional leading `+`; spaces, `-`, `.`, `(` and `)` are removed first. Then 7–15 digits, not starting with 0 (country code required). ' +
  'An integer is read as its digits. The server also checks that the number is possible for the country its code names (libphonenumber length rules), ' +
  'which no pattern can say: e.g. `9876543210` reads as +98 (Iran) and is refused.';

/** The separators the server removes (phone-number.ts), then `+`? and 7–15 digits not starting with 0. */
const PHONE_SEPARATOR = '[\\s\\-.()]*';
const PHONE_PATTERN = `^${PHONE_SEPARATOR}\\+?${PHONE_SEPARATOR}[1-9](?:${PHONE_SEPARATOR}[0-9]){6,14}${PHONE_SEPARATOR}$`;

const PHONE_NUMBER: JsonObject = {
  description: `A phone number. ${PHONE_RULE}`,
  oneOf: [
    { type: 'string', pattern: PHONE_PATTERN },
    { type: 'integer', minimum: 1_000_000, maximum: 999_999_999_999_999 },
  ],
  examples: [...EXAMPLE_PHONES],
};

/** Optional fields may be JSON null, which the server reads as absent (Python clients send None). */
const orNull = (type: string) => [type, 'null'];

/**
 * The request body as strictly as the service reads it: every field rule, and the rules across
 * fields (exactly one recipient form, message-or-attachment, caption and filename dependencies)
 * as allOf/oneOf/anyOf/if-then, so a tester driven by the document reaches the accepted path.
 * Only what depends on server state is left to descriptions: the attachment allowlist, linked
 * usernames, the 256 KiB body cap and phone possibility per country.
 *
 * Lengths are code points, as the server counts them: JSON Schema's minLength/maxLength count
 * characters as RFC 8259 defines them (code points, not UTF-16 units; Ajv does the same).
 */
function notifyRequestComponent(fieldNames: string[]): JsonObject {
  const properties: Record<string, JsonObject> = {
    apikey: {
      type: orNull('string'),
      description: 'API key. Also accepted from the `X-API-KEY` header when the body has none (or `null`).',
    },
    self: { type: orNull('boolean'), description: "`true`: send to the paired device's own number. `false` counts as absent." },
    username: {
      type: orNull('string'),
      minLength: 1,
      maxLength: 64,
      description: 'A username linked to a phone number (linked-users table). Unknown or unlinked → 404.',
    },
    phone: { anyOf: [{ $ref: '#/components/schemas/PhoneNumber' }, { type: 'null' }], description: 'One phone number.' },
    phones: {
      type: orNull('array'),
      minItems: 1,
      maxItems: MAX_PHONES_IN_REQUEST,
      items: { $ref: '#/components/schemas/PhoneNumber' },
      description: `1–${MAX_PHONES_IN_REQUEST} phone numbers. Duplicates (after normalising) collapse; the first ${MAX_RECIPIENTS} distinct are sent, the rest counted in \`skipped\`.`,
    },
    message: {
      type: orNull('string'),
      // Whitespace-only counts as absent, whatever its length.
      anyOf: [{ maxLength: MAX_MESSAGE_CODE_POINTS }, { pattern: '^\\s*$' }],
      description: `Text body, at most ${MAX_MESSAGE_CODE_POINTS} characters (Unicode code points). Optional when \`image_path\` or \`document_path\` is set; whitespace-only counts as absent.`,
    },
    image_path: {
      type: orNull('string'),
      minLength: 1,
      description:
        'Absolute server-local path of a JPEG, PNG or WebP image inside the attachment allowlist (`WHATSAPP_ATTACHMENT_ROOTS`). Anything outside → 400 `image_path is not allowed`.',
    },
    document_path: {
      type: orNull('string'),
      minLength: 1,
      description:
        'Absolute server-local path of a regular file inside the attachment allowlist. Anything outside → 400 `document_path is not allowed`.',
    },
    caption: {
      type: orNull('string'),
      maxLength: MAX_CAPTION_CODE_POINTS,
      description: `At most ${MAX_CAPTION_CODE_POINTS} characters (code points). Needs \`image_path\` or \`document_path\`; with a document and no image it follows as a text.`,
    },
    filename: {
      type: orNull('string'),
      minLength: 1,
      maxLength: 255,
      pattern: '^[^/\\\\\\u0000-\\u001f\\u007f]+$',
      description:
        "Display name for the document (default: the file's base name): no `/`, `\\` or control characters. Needs `document_path`.",
    },
    wait_for_delivery: {
      type: orNull('boolean'),
      description:
        'Default `false`. `true`: answer with the delivery report once every recipient is sent or failed (or 504 after `WHATSAPP_WAIT_TIMEOUT_MS`); while WhatsApp is offline, at once with `deferred: true`.',
    },
    idempotency_key: {
      type: orNull('string'),
      minLength: 1,
      maxLength: 128,
      description:
        '*Extension*, same as the `Idempotency-Key` header: a repeat with the same key and API key within 24 h sends nothing again and returns the first answer.',
    },
  };
  const missing = fieldNames.filter((name) => !properties[name]);
  if (missing.length > 0) throw new Error(`openapi.ts does not describe request fields ${missing.join(', ')}`);

  const present = (name: string, schema: JsonObject = { not: { type: 'null' } }) => ({ required: [name], properties: { [name]: schema } });
  const attachment = [present('image_path'), present('document_path')];
  return {
    type: 'object',
    properties,
    allOf: [
      {
        description: 'Exactly one recipient form; none or several → 400 naming `recipient`.',
        oneOf: [
          { title: 'self', ...present('self', { const: true }) },
          { title: 'username', ...present('username') },
          { title: 'phone', ...present('phone') },
          { title: 'phones', ...present('phones') },
        ],
      },
      {
        description: '`message` (not whitespace-only) unless an attachment is given.',
        anyOf: [present('message', { type: 'string', pattern: '\\S' }), ...attachment],
      },
      { description: '`caption` needs `image_path` or `document_path`.', if: present('caption'), then: { anyOf: attachment } },
      { description: '`filename` needs `document_path`.', if: present('filename'), then: present('document_path') },
    ],
    description:
      'Exactly one recipient form — `self: true`, `username`, `phone` or `phones` — is required; none or several is a 400 naming `recipient`. ' +
      '`message` is required unless an attachment is given. Unknown fields are ignored; `null` counts as absent. The body is read as JSON whatever the Content-Type says; over 256 KiB → 413.',
    examples: [{ apikey: 'wan_…', phone: '919876543210', message: 'Stop-loss hit', wait_for_delivery: true }],
  };
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (schema: JsonObject, description: string, headers?: JsonObject, links?: JsonObject) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema } },
  ...(links ? { links } : {}),
});
/** Every answer that stored a notification carries its `id`: where to ask about it next. */
const statusLink = {
  NotificationStatus: {
    operationId: 'notificationStatus',
    parameters: { id: '$response.body#/id' },
    description: 'The per-recipient state of the notification this answer stored.',
  },
};
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } } };
const error = (description: string, headers?: JsonObject) => json(ref('ErrorResponse'), description, headers);

export function buildOpenApiDocument(): JsonObject {
  const schemas = componentSchemas({
    QueuedResponse: queuedBodySchema,
    DeferredResponse: deferredBodySchema,
    DeliveryReportResponse: deliveryReportBodySchema,
    NotificationStatusResponse: notificationStatusBodySchema,
    ErrorResponse: errorBodySchema,
  });
  const requestSchemas = { NotifyRequest: notifyRequestComponent(Object.keys(notifyBodySchema.shape)), PhoneNumber: PHONE_NUMBER };

  return {
    openapi: '3.1.0',
    info: {
      title: 'wa-notify',
      version: API_VERSION,
      summary: 'WhatsApp notifications over one HTTP call.',
      description:
        'Sends text, an image and/or a document to the paired phone itself, one phone, a linked username, or up to 5 phones. ' +
        "Request and response shapes follow OpenAlgo's WhatsApp notify API; fields marked *extension* are wa-notify's own. " +
        'Every response is JSON; errors are `{"status":"error","message":…,"field"?:…}`.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [
      { url: 'http://127.0.0.1:7071', description: 'Local function host (`npm start`)' },
      { url: 'https://{app}.azurewebsites.net', description: 'Azure Functions', variables: { app: { default: 'your-function-app' } } },
    ],
    tags: [{ name: 'notify', description: 'Send WhatsApp notifications' }],
    paths: {
      '/api/v1/whatsapp/notify': {
        post: {
          operationId: 'notify',
          tags: ['notify'],
          summary: 'Send a notification',
          description:
            'Authentication happens before any other validation, then the per-key rate limit, then the body rules. ' +
            'A notification answered 200 has been written to durable storage and is sent once per recipient.',
          security: [{ ApiKeyHeader: [] }],
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                '*Extension*: a repeat with the same key and API key within 24 h sends nothing again and returns the first answer.',
              schema: { type: 'string', minLength: 1, maxLength: 128 },
            },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: ref('NotifyRequest') } } },
          responses: {
            '200': json(
              { anyOf: [ref('QueuedResponse'), ref('DeferredResponse'), ref('DeliveryReportResponse')] },
              'Queued (fire-and-forget); or deferred (`deferred: true`): WhatsApp is offline (sidecar unreachable, not paired, paused, reconnecting), the notification is stored and sent when it reconnects, in either mode, and with `wait_for_delivery` answered at once with every recipient in `data.pending`; or with `wait_for_delivery` the delivery report: `status` is `success` when all were sent, `error` when some failed. Every 200 is stored: do not retry it.',
              undefined,
              statusLink,
            ),
            '400': error('Invalid body or field; `field` names it (`phones[2]`, `recipient`, …).'),
            '401': error('`Invalid or missing API key`'),
            '404': error('`Username not found or not linked to WhatsApp`'),
            '409': error('WhatsApp is offline and `WHATSAPP_OFFLINE_POLICY=reject`: nothing was queued.'),
            '413': error('Body over 256 KiB, or an attachment over its size cap.'),
            '429': error('Rate limited (per API key, or failed authentications per client address).', retryAfter),
            '502': json(
              ref('DeliveryReportResponse'),
              '`wait_for_delivery`: no recipient could be sent (`status` is `error`). Nothing is left to send; a repeat with the same idempotency key replays this answer.',
              undefined,
              statusLink,
            ),
            '503': error('Storage is unavailable; nothing was queued. Safe to retry.', retryAfter),
            '504': json(
              ref('DeliveryReportResponse'),
              '`wait_for_delivery`: no answer within `WHATSAPP_WAIT_TIMEOUT_MS`; `data.pending` lists who is still being sent. Sending goes on: do not retry.',
              undefined,
              statusLink,
            ),
            '500': error('Internal error (no detail reaches the client). Retrying is safe only with an idempotency key.'),
          },
        },
      },
      '/api/v1/whatsapp/notify/{id}': {
        get: {
          operationId: 'notificationStatus',
          tags: ['notify'],
          summary: 'Per-recipient state of one notification (*extension*)',
          description: 'Only for the API key that sent it; any other key gets the same 404 as an unknown id.',
          security: [{ ApiKeyHeader: [] }, { ApiKeyQuery: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, description: 'The `id` of a notify answer', schema: { type: 'string' } }],
          responses: {
            '200': json(ref('NotificationStatusResponse'), 'The notification and its recipients.'),
            '401': error('`Invalid or missing API key`'),
            '404': error('`Notification not found`, or past the history window (`WHATSAPP_HISTORY`).'),
            '429': error('Too many failed authentications from this address.', retryAfter),
            '500': error('Internal error (no detail reaches the client).'),
          },
        },
      },
    },
    components: {
      schemas: { ...requestSchemas, ...schemas },
      securitySchemes: {
        ApiKeyHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-KEY',
          description:
            'On POST the key may instead be the `apikey` field of the JSON body (OpenAlgo compatible); the body wins when both are given.',
        },
        ApiKeyQuery: { type: 'apiKey', in: 'query', name: 'apikey' },
      },
    },
  };
}

/** The document as served and as checked in: stable key order, two-space indent, final newline. */
export function openApiJson(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}

/**
 * The local host's `extra` route for GET /api/openapi.json (true when it answered). The document is
 * built once; CORS is open so an OpenAPI viewer on another origin can load it (it holds no secret).
 */
export function openApiRoute(): (req: IncomingMessage, res: ServerResponse) => boolean {
  let body: string | undefined;
  return (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://host').pathname;
    if (pathname !== OPENAPI_ROUTE) return false;
    const method = (req.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'application/json; charset=utf-8', Allow: 'GET, HEAD' });
      res.end(JSON.stringify({ status: 'error', message: 'Method not allowed' }));
      return true;
    }
    body ??= openApiJson();
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'no-cache',
    });
    res.end(method === 'HEAD' ? undefined : body);
    return true;
  };
}
