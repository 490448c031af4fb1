/**
 * The OpenAPI document is as strict as the service. Request bodies are generated from the
 * document's NotifyRequest schema (test/support/schema-arbitrary.ts) and judged by a JSON Schema
 * validator (Ajv, 2020-12) against the same document; the running service must accept (200) every
 * body the document calls valid and refuse (400, naming a field) every body it calls invalid. A
 * second property breaks valid bodies one schema keyword at a time, so the refusals are not left
 * to chance. Only what depends on server state comes from the test: the API key, allowlisted
 * attachment paths and a linked username.
 *
 * WhatsApp is offline here (no sidecar), so every accepted body is answered 200 deferred.
 * OPENAPI_GEN_RUNS sets the number of generated bodies (default 300).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { buildOpenApiDocument } from '../shared/openapi.js';
import { schemaArbitrary, type Schema } from './support/schema-arbitrary.js';
import { pdfBytes, pngBytes } from './support/sample-files.js';
import { startStack, type Stack } from './support/stack.js';

let stack: Stack;
let requestSchema: Schema;
let isValid: (body: unknown) => boolean;
let explain: () => string;
const root = mkdtempSync(path.join(os.tmpdir(), 'wa-openapi-gen-'));
const IMAGE = path.join(root, 'chart.png');
const DOCUMENT = path.join(root, 'report.pdf');

beforeAll(async () => {
  writeFileSync(IMAGE, pngBytes(8, 8));
  writeFileSync(DOCUMENT, pdfBytes('generated'));
  const doc = (await SwaggerParser.dereference(structuredClone(buildOpenApiDocument()) as never)) as unknown as {
    components: { schemas: Record<string, Schema> };
  };
  requestSchema = doc.components.schemas.NotifyRequest!;
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  const validate = ajv.compile(requestSchema);
  isValid = (body) => validate(body) === true;
  explain = () => ajv.errorsText(validate.errors);
  stack = await startStack({ name: 'openapi-generated', startSidecar: false, env: { WHATSAPP_ATTACHMENT_ROOTS: root } });
  await stack.linkUser('trader1', '447700900123');
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
  rmSync(root, { recursive: true, force: true });
});

const bodies = () =>
  schemaArbitrary(requestSchema, {
    resolve: () => {
      throw new Error('the document is dereferenced');
    },
    overrides: {
      apikey: fc.constantFrom(stack.apiKey, null),
      username: fc.constant('trader1'),
      image_path: fc.constant(IMAGE),
      document_path: fc.constantFrom(DOCUMENT, IMAGE),
    },
  }) as fc.Arbitrary<Record<string, unknown>>;

async function post(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  // The key in the header (the document's security scheme), so a body without `apikey` is still signed.
  const headers = { 'Content-Type': 'application/json', 'X-API-KEY': stack.apiKey };
  const res = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const RUNS = Number(process.env.OPENAPI_GEN_RUNS ?? 300);
const shown = (body: unknown) => JSON.stringify(body).slice(0, 400);

test(
  'what the document calls valid is accepted (200), what it calls invalid is refused (400); most generated bodies are valid',
  async () => {
    let valid = 0;
    let invalid = 0;
    await fc.assert(
      fc.asyncProperty(bodies(), async (body) => {
        const documentSays = isValid(body);
        const why = documentSays ? '' : explain();
        const answer = await post(body);
        if (documentSays) {
          valid++;
          if (answer.status !== 200 || answer.body.status !== 'success')
            throw new Error(`valid per the document, answered ${answer.status} ${JSON.stringify(answer.body)}: ${shown(body)}`);
        } else {
          invalid++;
          if (answer.status !== 400) throw new Error(`invalid per the document (${why}), answered ${answer.status}: ${shown(body)}`);
        }
      }),
      { numRuns: RUNS },
    );
    console.log(`generated from the document: ${valid} valid (200), ${invalid} invalid (400)`);
    // A tester driven by the document reaches the accepted path for most requests.
    expect(valid).toBeGreaterThan(invalid);
    expect(invalid).toBeGreaterThan(0);
  },
  60_000 + RUNS * 400,
);

/** One schema keyword broken at a time; each must make the document and the service refuse. */
const BREAKS: { keyword: string; apply(body: Record<string, unknown>): Record<string, unknown> }[] = [
  { keyword: 'oneOf: no recipient form', apply: (b) => withoutRecipients(b) },
  { keyword: 'oneOf: self false is no recipient form', apply: (b) => ({ ...withoutRecipients(b), self: false }) },
  { keyword: 'oneOf: two recipient forms', apply: (b) => ({ ...withoutRecipients(b), self: true, phone: '919876543210' }) },
  { keyword: 'PhoneNumber pattern: too short', apply: (b) => ({ ...withoutRecipients(b), phone: '12345' }) },
  { keyword: 'PhoneNumber pattern: leading 0', apply: (b) => ({ ...withoutRecipients(b), phone: '0919876543210' }) },
  { keyword: 'PhoneNumber pattern: a letter', apply: (b) => ({ ...withoutRecipients(b), phones: ['91987654321O'] }) },
  { keyword: 'PhoneNumber integer range', apply: (b) => ({ ...withoutRecipients(b), phone: 1234567890123456 }) },
  { keyword: 'phones minItems', apply: (b) => ({ ...withoutRecipients(b), phones: [] }) },
  { keyword: 'phones maxItems', apply: (b) => ({ ...withoutRecipients(b), phones: Array.from({ length: 101 }, () => '919876543210') }) },
  { keyword: 'username minLength', apply: (b) => ({ ...withoutRecipients(b), username: '' }) },
  { keyword: 'username maxLength (code points)', apply: (b) => ({ ...withoutRecipients(b), username: '😀'.repeat(65) }) },
  { keyword: 'message maxLength (4096 code points)', apply: (b) => ({ ...b, message: '😀'.repeat(4097) }) },
  { keyword: 'message or an attachment', apply: (b) => withoutContent(b) },
  { keyword: 'message not whitespace-only without an attachment', apply: (b) => ({ ...withoutContent(b), message: ' \n\t ' }) },
  { keyword: 'caption needs an attachment', apply: (b) => ({ ...withoutContent(b), message: 'x', caption: 'c' }) },
  { keyword: 'caption maxLength', apply: (b) => ({ ...b, image_path: IMAGE, caption: 'c'.repeat(1025) }) },
  { keyword: 'filename needs document_path', apply: (b) => ({ ...b, document_path: null, filename: 'a.pdf' }) },
  { keyword: 'filename pattern', apply: (b) => ({ ...b, document_path: DOCUMENT, filename: 'a/b.pdf' }) },
  { keyword: 'image_path minLength', apply: (b) => ({ ...b, image_path: '' }) },
  { keyword: 'wait_for_delivery type', apply: (b) => ({ ...b, wait_for_delivery: 'yes' }) },
  { keyword: 'idempotency_key maxLength (code points)', apply: (b) => ({ ...b, idempotency_key: '😀'.repeat(129) }) },
  // Not a string, so not a key: the header's key signs the request, and the field is refused.
  { keyword: 'apikey type', apply: (b) => ({ ...b, apikey: 42 }) },
];

function withoutRecipients(body: Record<string, unknown>): Record<string, unknown> {
  const { self: _s, username: _u, phone: _p, phones: _ps, ...rest } = body;
  return rest;
}

function withoutContent(body: Record<string, unknown>): Record<string, unknown> {
  const { message: _m, image_path: _i, document_path: _d, caption: _c, filename: _f, ...rest } = body;
  return rest;
}

test('breaking one keyword of a valid body: the document and the service both refuse it', async () => {
  const seen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      bodies().filter((b) => isValid(b)),
      fc.constantFrom(...BREAKS),
      async (body, brk) => {
        const broken = brk.apply(body);
        if (isValid(broken)) throw new Error(`the document accepts "${brk.keyword}": ${shown(broken)}`);
        const answer = await post(broken);
        if (answer.status !== 400 || typeof answer.body.field !== 'string') {
          throw new Error(`"${brk.keyword}": answered ${answer.status} ${JSON.stringify(answer.body)}: ${shown(broken)}`);
        }
        seen.add(brk.keyword);
      },
    ),
    { numRuns: 200 },
  );
  // Every break was tried at least once (200 runs over 22 breaks).
  expect([...seen].sort()).toEqual(BREAKS.map((b) => b.keyword).sort());
}, 180_000);
