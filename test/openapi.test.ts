/**
 * The OpenAPI document: valid OpenAPI 3.1, identical to a freshly generated one (so docs/openapi.json
 * cannot go stale: `npm run openapi` regenerates it), served by the local host, and true to the
 * running API — real answers match the response schemas it names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { buildOpenApiDocument, openApiJson } from '../shared/openapi.js';
import { deferredBodySchema, errorBodySchema } from '../shared/notify-response-schema.js';
import { PROJECT_ROOT } from './support/paths.js';
import { startStack, type Stack } from './support/stack.js';

const CHECKED_IN = path.join(PROJECT_ROOT, 'docs', 'openapi.json');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ name: 'openapi', startSidecar: false });
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
});

test('the generated document is valid OpenAPI 3.1', async () => {
  const doc = buildOpenApiDocument();
  expect(doc.openapi).toBe('3.1.0');
  // validate() dereferences in place: give it a copy.
  await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  // …and the validator does reject a broken one (a dangling $ref).
  const broken = structuredClone(doc) as { components: { schemas: Record<string, unknown> } };
  delete broken.components.schemas.ErrorResponse;
  await expect(SwaggerParser.validate(broken as never)).rejects.toThrow();
});

test('docs/openapi.json matches the schemas (run `npm run openapi` after changing one)', () => {
  const checkedIn = readFileSync(CHECKED_IN, 'utf8');
  expect(JSON.parse(checkedIn)).toEqual(JSON.parse(openApiJson()));
  expect(checkedIn).toBe(openApiJson());
});

test('the request schema carries every field the handler reads, with the contract limits', () => {
  const schemas = (buildOpenApiDocument().components as { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> }).schemas;
  const props = schemas.NotifyRequest!.properties;
  expect(Object.keys(props).sort()).toEqual(
    ['apikey', 'caption', 'document_path', 'filename', 'idempotency_key', 'image_path', 'message', 'phone', 'phones', 'self', 'username', 'wait_for_delivery'].sort(),
  );
  expect(props.message).toMatchObject({ type: 'string', maxLength: 4096 });
  expect(props.phones).toMatchObject({ type: 'array', minItems: 1, maxItems: 100 });
  expect(props.phone!.type).toEqual(['string', 'number']);
  expect(schemas.DeferredResponse!.properties.deferred).toMatchObject({ const: true });
});

test('the local host serves the same document at /api/openapi.json', async () => {
  const res = await fetch(`${stack.fn.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/json');
  expect(await res.text()).toBe(openApiJson());
  expect((await fetch(`${stack.fn.url}/api/openapi.json`, { method: 'POST' })).status).toBe(405);
});

test('real answers fit the response schemas the document names', async () => {
  const unauthorized = await stack.notify({ apikey: 'nope', self: true, message: 'x' });
  expect(unauthorized.status).toBe(401);
  expect(errorBodySchema.safeParse(unauthorized.body).success).toBe(true);
  const invalid = await stack.notify({ apikey: stack.apiKey, phones: ['12'], message: 'x' });
  expect(invalid.status).toBe(400);
  expect(errorBodySchema.parse(invalid.body).field).toBe('phones[0]');
  // The sidecar is not running: WhatsApp is offline, so the notification is deferred.
  const deferred = await stack.notify({ apikey: stack.apiKey, self: true, message: 'x' });
  expect(deferred.status).toBe(200);
  expect(deferred.body.deferred).toBe(true);
  expect(deferredBodySchema.safeParse(deferred.body).success).toBe(true);
});
