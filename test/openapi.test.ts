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
  const schemas = (
    buildOpenApiDocument().components as { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> }
  ).schemas;
  const props = schemas.NotifyRequest!.properties;
  expect(Object.keys(props).sort()).toEqual(
    [
      'apikey',
      'caption',
      'document_path',
      'filename',
      'idempotency_key',
      'image_path',
      'message',
      'phone',
      'phones',
      'self',
      'username',
      'wait_for_delivery',
    ].sort(),
  );
  expect(props.message).toMatchObject({ type: ['string', 'null'], anyOf: [{ maxLength: 4096 }, { pattern: '^\\s*$' }] });
  expect(props.phones).toMatchObject({
    type: ['array', 'null'],
    minItems: 1,
    maxItems: 100,
    items: { $ref: '#/components/schemas/PhoneNumber' },
  });
  expect(props.phone).toMatchObject({ anyOf: [{ $ref: '#/components/schemas/PhoneNumber' }, { type: 'null' }] });
  expect(schemas.DeferredResponse!.properties.deferred).toMatchObject({ const: true });
});

test('exactly one recipient form is a oneOf of the four forms, self only true; caption and filename depend on attachments', () => {
  const request = (buildOpenApiDocument().components as { schemas: Record<string, { allOf: Record<string, unknown>[] }> }).schemas
    .NotifyRequest!;
  const [recipients, content, caption, filename] = request.allOf;
  expect(recipients!.oneOf).toEqual([
    expect.objectContaining({ required: ['self'], properties: { self: { const: true } } }),
    expect.objectContaining({ required: ['username'] }),
    expect.objectContaining({ required: ['phone'] }),
    expect.objectContaining({ required: ['phones'] }),
  ]);
  expect((content!.anyOf as { required: string[] }[]).map((b) => b.required)).toEqual([['message'], ['image_path'], ['document_path']]);
  expect(caption).toMatchObject({
    if: { required: ['caption'] },
    then: { anyOf: [{ required: ['image_path'] }, { required: ['document_path'] }] },
  });
  expect(filename).toMatchObject({ if: { required: ['filename'] }, then: { required: ['document_path'] } });
});

test('every status code the service answers is documented, and the POST answers link to the status route by id', () => {
  const paths = buildOpenApiDocument().paths as Record<
    string,
    Record<string, { responses: Record<string, { links?: Record<string, unknown> }> }>
  >;
  const post = paths['/api/v1/whatsapp/notify']!.post!.responses;
  expect(Object.keys(post).sort()).toEqual(['200', '400', '401', '404', '409', '413', '429', '500', '502', '503', '504']);
  for (const status of ['200', '502', '504']) {
    expect(post[status]!.links).toEqual({
      NotificationStatus: expect.objectContaining({ operationId: 'notificationStatus', parameters: { id: '$response.body#/id' } }),
    });
  }
  expect(Object.keys(paths['/api/v1/whatsapp/notify/{id}']!.get!.responses).sort()).toEqual(['200', '401', '404', '429', '500']);
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
