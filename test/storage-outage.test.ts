/**
 * Table storage goes away (Azurite stopped, on-disk data kept) and comes back:
 * - requests during the outage get a clear 503 JSON answer quickly — also when the API key lookup
 *   itself needs storage — never a 500 or a hang;
 * - mid-burst, nothing answered 200 (queued or deferred) is lost and nothing is shown twice.
 *
 * Azurite is stopped with SIGINT, its own clean shutdown: it keeps tables in memory and writes them
 * to disk every 5 s (LokiJS autosave) and on SIGINT, so a SIGKILL would lose the last seconds of
 * writes it had acknowledged — a property of the emulator, not of Table storage.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createApiKeyStore } from '../shared/api-keys.js';
import { chaosScenario } from './support/chaos-burst.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';

const CONTACTS = ['919876543210', '919876543211', '447700900123'];
let stack: PairedStack;

beforeAll(async () => {
  stack = await startPairedStack({
    name: 'storage-outage',
    persistentAzurite: true,
    env: { WHATSAPP_SEND_BUDGET: 'off', WHATSAPP_SEND_INTERVAL_MS: '0' },
  });
  for (const c of CONTACTS) stack.peer.addContact(c);
}, 60_000);
afterAll(async () => {
  await stack.dispose();
});

/** The Azurite process serving this stack's port (Linux /proc), found by its command line. */
function azuritePid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--tablePort');
      if (at > 0 && args[at + 1] === String(port) && args.some((a) => a.includes('azurite'))) return Number(entry);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

/** Clean stop (SIGINT: Azurite saves its data and exits), bounded; then start it on the same port and folder. */
async function stopAzurite(): Promise<void> {
  const pid = azuritePid(stack.azurite.port);
  if (pid === undefined) throw new Error('Azurite process not found');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error('Azurite did not stop');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('storage down: 503 JSON, quickly, for the notify call and the status lookup — also for an uncached API key', async () => {
  const { key: freshKey } = await createApiKeyStore(stack.tables, stack.env.WHATSAPP_API_KEY_PEPPER!).create('outage-fresh');
  const warm = await stack.notify({ apikey: stack.apiKey, self: true, message: 'before the outage', wait_for_delivery: true });
  expect(warm.status).toBe(200);
  await stopAzurite();
  try {
    for (const key of [freshKey, stack.apiKey]) {
      const started = Date.now();
      const res = await stack.notify({ apikey: key, phone: CONTACTS[0], message: 'during the outage' });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ status: 'error', message: expect.stringContaining('Storage is unavailable') });
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(Date.now() - started).toBeLessThan(8_000);
    }
    const lookup = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${String(warm.body.id)}`, { headers: { 'X-API-KEY': freshKey } });
    expect(lookup.status).toBe(503);
  } finally {
    await stack.azurite.start();
  }
  const after = await stack.notify({ apikey: freshKey, phone: CONTACTS[0], message: 'after the outage', wait_for_delivery: true });
  expect(after.status).toBe(200);
  expect(stack.peer.received.filter((m) => m.text === 'during the outage')).toEqual([]);
}, 60_000);

test('Azurite stopped and restarted mid-burst: 503 during the outage, nothing answered lost or shown twice', async () => {
  const { counts } = await chaosScenario({
    scenario: 'Azurite stop/restart mid-burst',
    prefixBase: 'storage-restart',
    peer: stack.peer,
    breakIt: async () => {
      await stopAzurite();
      await new Promise((r) => setTimeout(r, 2_000));
      await stack.azurite.start();
    },
    send: (i, text) => stack.notify({ apikey: stack.apiKey, phone: CONTACTS[i % CONTACTS.length], message: text }),
    timeoutMs: 90_000,
  });
  expect(counts.notAnswered['503'] ?? 0).toBeGreaterThan(0);
  expect(Object.keys(counts.notAnswered).filter((k) => k !== '503')).toEqual([]);
  expect(counts.lostTexts).toEqual([]);
  expect(counts.duplicated).toBe(0);
  expect(counts.unansweredSentTwice).toBe(0);
}, 150_000);
