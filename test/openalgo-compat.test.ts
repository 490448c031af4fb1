/**
 * Existing OpenAlgo scripts work unchanged (issue 13). Every combination of the official Python
 * SDK's `whatsapp()` arguments, sent exactly as the SDK sends them (test/support/openalgo-request.ts:
 * body apikey only, Content-Type application/json only, wait_for_delivery always sent, kwargs
 * forwarded, a host with a trailing slash requesting `//api/...`), against the real stack with
 * WhatsApp played by the loopback peer: open, then paused (deferred). Every valid call must get the
 * 200 the SDK needs and a body its caller reads as success; every invalid one the documented 4xx.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { callLikeTheSdk, openalgoWhatsappRequest, type OpenAlgoWhatsappArgs, type SdkCall } from './support/openalgo-request.js';
import { pdfBytes, pngBytes } from './support/sample-files.js';

let stack: PairedStack;
const root = mkdtempSync(path.join(os.tmpdir(), 'wa-openalgo-'));
const IMAGE = path.join(root, 'chart.png');
const DOCUMENT = path.join(root, 'report.pdf');
// Possible numbers for their country codes (they stay valid under libphonenumber's rules).
const IN = '919876543210';
const UK = '447700900123';
const US = '14155550123';
const NOT_ON_WHATSAPP = '14155550199';
const jid = (phone: string) => `${phone}@s.whatsapp.net`;

beforeAll(async () => {
  writeFileSync(IMAGE, pngBytes(16, 12));
  writeFileSync(DOCUMENT, pdfBytes('openalgo compat'));
  // A generous wait bound: on a busy machine a media send can outlast the tests' usual 10 s, and a
  // 504 here would be load, not compatibility.
  stack = await startPairedStack({
    name: 'openalgo-compat',
    env: { WHATSAPP_ATTACHMENT_ROOTS: root, WHATSAPP_SEND_BUDGET: 'off', WHATSAPP_WAIT_TIMEOUT_MS: '120000' },
  });
  for (const phone of [IN, UK, US]) stack.peer.addContact(phone);
  stack.peer.addContact(NOT_ON_WHATSAPP, { onWhatsApp: false });
  await stack.linkUser('trader1', UK);
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
  rmSync(root, { recursive: true, force: true });
});

type CallArgs = Omit<OpenAlgoWhatsappArgs, 'apiKey' | 'host'>;

interface Form {
  name: string;
  args: CallArgs;
  /** Who it reaches; `self` is the paired JID. */
  to: () => string[];
}

// The SDK's recipient precedence: username → to (list/tuple) → to (non-empty str) → self.
const RECIPIENTS: Form[] = [
  { name: 'no to (self)', args: {}, to: () => [stack.peer.selfJid] },
  { name: 'to="" (self)', args: { to: '' }, to: () => [stack.peer.selfJid] },
  { name: 'to=str', args: { to: IN }, to: () => [jid(IN)] },
  { name: 'to=list', args: { to: [IN, US] }, to: () => [jid(IN), jid(US)] },
  { name: 'to=tuple', args: { to: { tuple: [US, '+44 7700 900123'] } }, to: () => [jid(US), jid(UK)] },
  { name: 'username=', args: { username: 'trader1' }, to: () => [jid(UK)] },
  { name: 'username= wins over to=', args: { username: 'trader1', to: IN }, to: () => [jid(UK)] },
];

interface Content {
  name: string;
  args: (tag: string) => CallArgs;
  /** What the peer must receive per recipient (`text`, `image`, `document` with their tag). */
  parts: ('text' | 'image' | 'document' | 'caption-text')[];
}

const CONTENTS: Content[] = [
  { name: 'message', args: (tag) => ({ message: `text ${tag}` }), parts: ['text'] },
  {
    name: 'message + image + caption',
    args: (tag) => ({ message: `text ${tag}`, image: IMAGE, caption: `cap ${tag}` }),
    parts: ['text', 'image'],
  },
  {
    name: 'document + filename + caption, message None',
    args: (tag) => ({ document: DOCUMENT, filename: `${tag}.pdf`, caption: `cap ${tag}` }),
    parts: ['document', 'caption-text'],
  },
  {
    name: 'image + document + filename + caption, message None',
    args: (tag) => ({ image: IMAGE, document: DOCUMENT, filename: `${tag}.pdf`, caption: `cap ${tag}` }),
    parts: ['image', 'document'],
  },
];

interface Case {
  tag: string;
  name: string;
  args: CallArgs;
  hostSlash: boolean;
  wait: boolean;
  to: () => string[];
  parts: Content['parts'];
}

/**
 * Every combination of the whatsapp() arguments: recipient form × content × wait_for_delivery
 * (default, False) × kwargs (none, idempotency_key). The host (the constructor's, not a whatsapp()
 * argument) alternates with and without its trailing slash so that each of these pairs meets both.
 */
function allCases(mode: string): Case[] {
  const cases: Case[] = [];
  let i = 0;
  for (const [f, form] of RECIPIENTS.entries()) {
    for (const [n, content] of CONTENTS.entries()) {
      for (const [w, wait] of ([undefined, false] as const).entries()) {
        for (const [k, kwargs] of [false, true].entries()) {
          const hostSlash = (f + n + w + k) % 2 === 1;
          const tag = `${mode}-${i++}`;
          cases.push({
            tag,
            name: `${form.name}, ${content.name}, wait_for_delivery=${wait ?? 'default'}, ${kwargs ? 'idempotency_key=' : 'no kwargs'}, host${hostSlash ? ' with /' : ''}`,
            args: {
              ...form.args,
              ...content.args(tag),
              ...(wait === undefined ? {} : { waitForDelivery: wait }),
              ...(kwargs ? { kwargs: { idempotency_key: `key-${tag}` } } : {}),
            },
            hostSlash,
            wait: wait ?? true,
            to: form.to,
            parts: content.parts,
          });
        }
      }
    }
  }
  return cases;
}

const call = (c: { args: CallArgs; hostSlash?: boolean }, apiKey = stack.apiKey): Promise<SdkCall> =>
  callLikeTheSdk(openalgoWhatsappRequest({ apiKey, host: `${stack.fn.url}${c.hostSlash ? '/' : ''}`, ...c.args }));

/** Runs the calls a few at a time (bounded), in order. */
async function inBatches<T, R>(items: T[], size: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  return out;
}

/** Waits until every part of every case reached the peer; a timeout names the first few that did not. */
function everyArrived(cases: Case[], ms: number): Promise<void> {
  return waitUntil(
    () => cases.every(arrived),
    ms,
    () =>
      `every part of ${cases
        .filter((c) => !arrived(c))
        .map((c) => c.name)
        .slice(0, 3)
        .join('; ')}`,
  );
}

/** Everything the peer must have received for a case: per recipient, each part with the case's tag. */
function arrived(c: Case): boolean {
  return c.to().every((to) =>
    c.parts.every((part) =>
      stack.peer.received.some((m) => {
        if (m.to !== to) return false;
        if (part === 'text') return m.kind === 'text' && m.text === `text ${c.tag}`;
        if (part === 'caption-text') return m.kind === 'text' && m.text === `cap ${c.tag}`;
        if (part === 'image') return m.kind === 'image' && m.caption === `cap ${c.tag}`;
        return m.kind === 'document' && m.fileName === `${c.tag}.pdf`;
      }),
    ),
  );
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The replays of the kwargs cases: same answer, marked replayed. */
async function expectReplays(cases: Case[], first: Map<string, SdkCall>): Promise<void> {
  const withKey = cases.filter((c) => c.args.kwargs !== undefined);
  const again = await inBatches(withKey, 8, (c) => call(c));
  withKey.forEach((c, i) => {
    expect({ case: c.name, status: again[i]!.status, text: again[i]!.text }).toEqual({
      case: c.name,
      status: 200,
      text: first.get(c.tag)!.text,
    });
  });
}

describe('WhatsApp open', () => {
  const cases = allCases('open');
  const answers = new Map<string, SdkCall>();

  test(`all ${cases.length} argument combinations: 200, read as success, delivered`, async () => {
    const results = await inBatches(cases, 4, (c) => call(c));
    cases.forEach((c, i) => {
      const { status, result } = results[i]!;
      answers.set(c.tag, results[i]!);
      const expected = c.to();
      // One object per case, so a failure names the combination.
      const seen = { case: c.name, status, sdkStatus: result.status, deferred: result.deferred };
      expect(seen).toEqual({ case: c.name, status: 200, sdkStatus: 'success', deferred: undefined });
      expect(result.id).toMatch(/^q\d{15}-[0-9a-f]{16}$/);
      if (c.wait) {
        expect({ case: c.name, data: result.data, message: result.message }).toEqual({
          case: c.name,
          data: { sent: expected, failed: [], skipped: 0 },
          message: `Sent to ${expected.length} of ${expected.length} recipient(s)`,
        });
      } else {
        expect({ case: c.name, queued: result.queued, skipped: result.skipped }).toEqual({
          case: c.name,
          queued: expected.length,
          skipped: 0,
        });
      }
    });
    await everyArrived(cases, 60_000);
  }, 240_000);

  test('kwargs idempotency_key makes a retry safe: the repeat gets the first answer and sends nothing', async () => {
    await expectReplays(cases, answers);
    await new Promise((r) => setTimeout(r, 1_000));
    for (const c of cases.filter((x) => x.args.kwargs !== undefined && x.parts[0] === 'text')) {
      for (const to of c.to()) expect(stack.peer.received.filter((m) => m.to === to && m.text === `text ${c.tag}`)).toHaveLength(1);
    }
  }, 60_000);

  test('partial failure with wait_for_delivery (the default): 200, the documented shape with status "error"', async () => {
    const { status, result } = await call({ args: { message: 'partly', to: [IN, NOT_ON_WHATSAPP] } });
    expect(status).toBe(200);
    expect(result).toMatchObject({
      status: 'error',
      message: 'Sent to 1 of 2 recipient(s)',
      data: { sent: [jid(IN)], failed: [{ to: jid(NOT_ON_WHATSAPP), error: 'not on WhatsApp' }], skipped: 0 },
    });
  });

  test('none sent with wait_for_delivery: 502, which the SDK reports as its error dict', async () => {
    const { status, result } = await call({ args: { message: 'nobody', to: NOT_ON_WHATSAPP } });
    expect(status).toBe(502);
    expect(result).toMatchObject({ status: 'error', code: 502 });
    expect(String(result.message)).toMatch(/^HTTP 502: \{"status":"error","message":"Sent to 0 of 1 recipient\(s\)"/);
  });
});

describe('WhatsApp paused (deferred)', () => {
  const cases = allCases('paused');
  const answers = new Map<string, SdkCall>();

  beforeAll(async () => {
    expect((await stack.admin('POST', 'disconnect')).body.state).toBe('paused');
  });

  test(`all ${cases.length} argument combinations: 200 deferred, read as success, at once even with wait_for_delivery`, async () => {
    const results = await inBatches(cases, 8, (c) => call(c));
    cases.forEach((c, i) => {
      const { status, result } = results[i]!;
      answers.set(c.tag, results[i]!);
      const expected = c.to();
      expect({ case: c.name, status, sdkStatus: result.status, deferred: result.deferred, queued: result.queued }).toEqual({
        case: c.name,
        status: 200,
        sdkStatus: 'success',
        deferred: true,
        queued: expected.length,
      });
      expect(result.message).toBe(`WhatsApp is offline; queued for ${expected.length} recipient(s) until it reconnects`);
      expect({ case: c.name, data: result.data }).toEqual({
        case: c.name,
        data: c.wait ? { sent: [], failed: [], skipped: 0, pending: expected } : undefined,
      });
    });
    // Nothing went out while paused.
    expect(cases.some(arrived)).toBe(false);
  }, 120_000);

  test('kwargs idempotency_key: a retry of a deferred call gets the same deferred answer', async () => {
    await expectReplays(cases, answers);
  }, 60_000);

  test('after connect, every deferred combination is delivered, once', async () => {
    expect((await stack.admin('POST', 'connect')).status).toBe(200);
    await stack.waitForState('open');
    await everyArrived(cases, 120_000);
    for (const c of cases.filter((x) => x.parts[0] === 'text')) {
      for (const to of c.to()) expect(stack.peer.received.filter((m) => m.to === to && m.text === `text ${c.tag}`)).toHaveLength(1);
    }
  }, 180_000);
});

describe('invalid calls get the documented 4xx, which the SDK reports as its error dict', () => {
  const invalid: { name: string; args: CallArgs; apiKey?: string; status: number; field?: string; message?: RegExp }[] = [
    { name: 'a wrong api_key', args: { message: 'x' }, apiKey: 'wan_not-a-key', status: 401, message: /^Invalid or missing API key/ },
    { name: 'to= a number without its country code', args: { message: 'x', to: '12' }, status: 400, field: 'phone' },
    { name: 'to= an empty list', args: { message: 'x', to: [] }, status: 400, field: 'phones' },
    { name: 'to= a list with a bad entry', args: { message: 'x', to: [IN, 'abc'] }, status: 400, field: 'phones[1]' },
    {
      name: 'username= unknown',
      args: { message: 'x', username: 'nobody-here' },
      status: 404,
      message: /^Username not found or not linked to WhatsApp$/,
    },
    { name: 'message None and no attachment', args: {}, status: 400, field: 'message' },
    { name: 'a whitespace-only message', args: { message: '   ' }, status: 400, field: 'message' },
    { name: 'a message over 4096 characters', args: { message: 'x'.repeat(4097) }, status: 400, field: 'message' },
    { name: 'caption= without an attachment', args: { message: 'x', caption: 'c' }, status: 400, field: 'caption' },
    { name: 'filename= without document=', args: { image: IMAGE, filename: 'a.pdf' }, status: 400, field: 'filename' },
    {
      name: 'image= outside the allowlist',
      args: { image: '/etc/passwd' },
      status: 400,
      field: 'image_path',
      message: /^image_path is not allowed$/,
    },
    {
      name: 'document= a relative path',
      args: { document: 'report.pdf' },
      status: 400,
      field: 'document_path',
      message: /^document_path is not allowed$/,
    },
    { name: 'image= not an image', args: { image: DOCUMENT }, status: 400, field: 'image_path' },
    { name: 'kwargs idempotency_key=""', args: { message: 'x', kwargs: { idempotency_key: '' } }, status: 400, field: 'idempotency_key' },
  ];

  test.each(invalid)('$name → $status', async ({ args, apiKey, status, field, message }) => {
    for (const hostSlash of [false, true]) {
      const answer = await call({ args, hostSlash }, apiKey);
      expect(answer.status).toBe(status);
      expect(answer.result).toMatchObject({ status: 'error', code: status });
      const body = JSON.parse(answer.text) as { status: string; message: string; field?: string };
      expect(body.status).toBe('error');
      if (field !== undefined) expect(body.field).toBe(field);
      if (message !== undefined) expect(body.message).toMatch(message);
    }
  });
});

describe('what real clients send besides the SDK', () => {
  test('no Content-Type, or text/plain: the body is still read as JSON', async () => {
    const request = openalgoWhatsappRequest({ apiKey: stack.apiKey, host: stack.fn.url, message: 'content-type', waitForDelivery: false });
    for (const headers of [{}, { 'Content-Type': 'text/plain' }, { 'Content-Type': 'application/x-www-form-urlencoded' }] as Record<
      string,
      string
    >[]) {
      // A string body makes fetch add text/plain itself; a Uint8Array body sends no Content-Type at all.
      const res = await fetch(request.url, { method: 'POST', headers, body: new TextEncoder().encode(JSON.stringify(request.body)) });
      const body = (await res.json()) as Record<string, unknown>;
      expect({ headers, status: res.status, result: body.status }).toEqual({ headers, status: 200, result: 'success' });
    }
  });

  test('doubled slashes anywhere in the path reach the same routes; the status route too', async () => {
    const first = await call({ args: { message: 'slashes', waitForDelivery: false }, hostSlash: true });
    expect(first.status).toBe(200);
    const id = String(first.result.id);
    for (const route of [`//api/v1/whatsapp/notify/${id}`, `/api//v1/whatsapp//notify/${id}`]) {
      const res = await fetch(`${stack.fn.url}${route}`, { headers: { 'X-API-KEY': stack.apiKey } });
      expect({ route, status: res.status }).toEqual({ route, status: 200 });
      expect(((await res.json()) as { data: { id: string } }).data.id).toBe(id);
    }
    // A path that differs by more than slashes is still unknown.
    expect((await fetch(`${stack.fn.url}//api/v1/whatsapp/notifyx`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
