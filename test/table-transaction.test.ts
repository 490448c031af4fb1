/**
 * Entity-group transactions rendered by shared/table-transaction.ts, against the SDK's own
 * `submitTransaction` and a real Azurite: the request body is the SDK's byte for byte (boundaries
 * aside), what it writes reads back with the same types, and failures raise the SDK's errors.
 */
import { TableClient, type TransactionAction } from '@azure/data-tables';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { azuriteConnectionString } from '../shared/config.js';
import { submitTransaction } from '../shared/table-transaction.js';
import { storageStatus } from '../shared/table-store.js';
import { startAzurite, type AzuriteHandle } from './support/azurite.js';

let azurite: AzuriteHandle;
beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite.dispose();
});

/** A real client whose HTTP requests are also recorded (the SDK's, and ours through its pipeline). */
const recordingClient = (table: string) => {
  const inner = createDefaultHttpClient();
  const batches: PipelineRequest[] = [];
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      if (request.url.includes('$batch')) batches.push(request);
      return inner.sendRequest(request);
    },
  };
  const client = TableClient.fromConnectionString(azuriteConnectionString(azurite.port), table, {
    allowInsecureConnection: true,
    httpClient,
  });
  return { client, batches, httpClient };
};
const normalised = (body: unknown) =>
  String(body)
    .replace(/batch_[0-9a-f-]{36}/g, 'batch_ID')
    .replace(/changeset_[0-9a-f-]{36}/g, 'changeset_ID');

// Keys with characters that need quoting or escaping in a sub-request's URL.
const odd = { partitionKey: "p 'one' é", rowKey: 'r~1 +&=' }; // '/', '\\', '#' and '?' are not allowed in keys
const entity = {
  ...odd,
  text: 'x',
  int: 5,
  epochMs: 1795646444990,
  double: 1.5,
  flag: true,
  none: null,
  absent: undefined,
  bytes: new Uint8Array([1, 2, 3]),
  when: new Date(0),
  big: 12n,
  typed: { value: '7', type: 'Int64' },
};

test('renders the same request body as TableClient.submitTransaction for every kind of action', async () => {
  const sdk = recordingClient('txnsdk');
  const ours = recordingClient('txnours');
  for (const c of [sdk.client, ours.client]) await c.createTable();
  const first: TransactionAction[] = [
    ['create', entity],
    ['upsert', { ...odd, rowKey: 'b', text: 'y' }, 'Replace'],
    ['upsert', { ...odd, rowKey: 'c', text: 'z' }, 'Merge'],
  ];
  const second: TransactionAction[] = [
    ['update', { ...odd, text: 'x2' }, 'Replace', { etag: '*' }],
    ['update', { ...odd, rowKey: 'b', text: 'y2' }, 'Merge'],
    ['delete', { ...odd, rowKey: 'c' }],
  ];
  // An empty ETag is passed on as it is (the service refuses it); both fail alike.
  const third: TransactionAction[] = [['update', { ...odd, rowKey: 'b', text: 'y3' }, 'Merge', { etag: '' }]];
  await sdk.client.submitTransaction(first);
  await sdk.client.submitTransaction(second);
  const sdkThird = await sdk.client.submitTransaction(third).catch((e: unknown) => e);
  await submitTransaction(ours.client, first, ours);
  await submitTransaction(ours.client, second, ours);
  const ourThird = await submitTransaction(ours.client, third, ours).catch((e: unknown) => e);
  expect(storageStatus(ourThird)).toBe(storageStatus(sdkThird));
  expect(ours.batches).toHaveLength(3);
  for (const i of [0, 1, 2]) {
    const theirs = sdk.batches[i]!;
    const mine = ours.batches[i]!;
    expect(normalised(mine.body).replaceAll('txnours', 'txnsdk')).toBe(normalised(theirs.body));
    for (const header of ['content-type', 'accept', 'x-ms-version', 'dataserviceversion', 'maxdataserviceversion']) {
      expect(normalised(mine.headers.get(header))).toBe(normalised(theirs.headers.get(header)));
    }
    expect(mine.headers.get('authorization')).toMatch(/^SharedKeyLite devstoreaccount1:/);
  }
});

test('writes what the SDK writes: read back, the types are the same; ETags come per action', async () => {
  const { client } = recordingClient('txnread');
  await client.createTable();
  const result = await submitTransaction(client, [
    ['create', { ...entity, rowKey: 'a' }],
    ['create', { ...odd, rowKey: 'b', n: 1 }],
  ]);
  expect(result.status).toBe(202);
  expect(result.subResponses.map((s) => s.status)).toEqual([204, 204]);
  const [a, b] = result.subResponses.map((s) => s.etag);
  expect(a).toMatch(/^W\/"datetime'/);
  expect(b).toMatch(/^W\/"datetime'/);
  const back = await client.getEntity(odd.partitionKey, 'a');
  expect(back).toMatchObject({ text: 'x', int: 5, epochMs: 1795646444990, double: 1.5, flag: true, big: 12n, typed: 7n, etag: a });
  expect(Buffer.from(back.bytes as Uint8Array)).toEqual(Buffer.from([1, 2, 3]));
  expect((back.when as Date).getTime()).toBe(0);
  expect(back).not.toHaveProperty('absent');

  // an ETag-conditional update lands with the current ETag and fails with an old one
  const updated = await submitTransaction(client, [['update', { ...odd, rowKey: 'b', n: 2 }, 'Replace', { etag: b! }]]);
  expect(updated.subResponses[0]!.etag).not.toBe(b);
  const stale = await submitTransaction(client, [['update', { ...odd, rowKey: 'b', n: 3 }, 'Replace', { etag: b! }]]).catch(
    (error: unknown) => error,
  );
  expect(storageStatus(stale)).toBe(412);
  expect(stale).toMatchObject({ name: 'RestError', code: 'UpdateConditionNotSatisfied' });
  expect((await client.getEntity(odd.partitionKey, 'b')).n).toBe(2);
});

test('text with line and paragraph separators (U+2028, U+2029) lands and reads back unchanged', async () => {
  // Raw in the body, Azurite failed the whole transaction with a 500 (a fuzz-suite message did).
  const { client } = recordingClient('txnseparators');
  await client.createTable();
  const text = 'line\u2028next\u2029paragraph';
  await submitTransaction(client, [
    ['create', { partitionKey: 'p', rowKey: 'a', text }],
    ['upsert', { partitionKey: 'p', rowKey: 'b', text: `${text} b` }],
  ]);
  await submitTransaction(client, [['update', { partitionKey: 'p', rowKey: 'a', text: `${text} again` }, 'Replace']]);
  expect((await client.getEntity<{ text: string }>('p', 'a')).text).toBe(`${text} again`);
  expect((await client.getEntity<{ text: string }>('p', 'b')).text).toBe(`${text} b`);
});

test('a transaction is atomic and fails as the SDK does: the failed action names the error; nothing of it lands', async () => {
  const { client } = recordingClient('txnfail');
  await client.createTable();
  await submitTransaction(client, [['create', { partitionKey: 'p', rowKey: 'taken' }]]);
  const error = await submitTransaction(client, [
    ['create', { partitionKey: 'p', rowKey: 'new' }],
    ['create', { partitionKey: 'p', rowKey: 'taken' }],
  ]).catch((e: unknown) => e);
  expect(storageStatus(error)).toBe(409);
  expect(error).toMatchObject({ name: 'RestError', code: 'EntityAlreadyExists' });
  expect((error as Error).message).toMatch(/^1:/);
  await expect(client.getEntity('p', 'new')).rejects.toMatchObject({ statusCode: 404 });
  await expect(
    submitTransaction(client, [
      ['create', { partitionKey: 'p', rowKey: 'x' }],
      ['create', { partitionKey: 'q', rowKey: 'y' }],
    ]),
  ).rejects.toThrow(/same partitionKey/);
});

/** A sub-request's server error, which comes inside the batch's 202 (the pipeline's retry policy never sees it). */
const serverErrorAnswer = (request: PipelineRequest): PipelineResponse => ({
  request,
  status: 202,
  headers: createHttpHeaders({ 'content-type': 'multipart/mixed; boundary=batchresponse_x' }),
  bodyAsText: [
    '--batchresponse_x',
    'Content-Type: multipart/mixed; boundary=changesetresponse_x',
    '',
    '--changesetresponse_x',
    'Content-Type: application/http',
    '',
    'HTTP/1.1 500 Internal Server Error',
    '',
    '{"odata.error":{"code":"","message":{"lang":"en-US","value":"Transaction Failed"}}}',
    '--changesetresponse_x--',
    '--batchresponse_x--',
    '',
  ].join('\r\n'),
});

/** A real client whose first `refusals` transactions are answered with that server error. */
const refusingClient = (table: string, refusals: number) => {
  const inner = createDefaultHttpClient();
  let sent = 0;
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      if (!request.url.includes('$batch')) return inner.sendRequest(request);
      sent++;
      return sent <= refusals ? Promise.resolve(serverErrorAnswer(request)) : inner.sendRequest(request);
    },
  };
  const client = TableClient.fromConnectionString(azuriteConnectionString(azurite.port), table, {
    allowInsecureConnection: true,
    httpClient,
  });
  return { client, httpClient, sent: () => sent };
};

test('a sub-request answered 500 inside the 202 is tried again, up to ten times, and then fails with the 500', async () => {
  const landing = refusingClient('txnretry', 9);
  await landing.client.createTable();
  await submitTransaction(landing.client, [['create', { partitionKey: 'p', rowKey: 'a' }]], { httpClient: landing.httpClient });
  expect(landing.sent()).toBe(10);
  expect(await landing.client.getEntity('p', 'a')).toMatchObject({ rowKey: 'a' });

  const refused = refusingClient('txnretry', 10);
  const error = await submitTransaction(refused.client, [['create', { partitionKey: 'p', rowKey: 'b' }]], {
    httpClient: refused.httpClient,
  }).catch((e: unknown) => e);
  expect(refused.sent()).toBe(10);
  expect(error).toMatchObject({ name: 'RestError', statusCode: 500, message: 'Transaction Failed' });
  await expect(refused.client.getEntity('p', 'b')).rejects.toMatchObject({ statusCode: 404 });
});
