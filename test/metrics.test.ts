/**
 * The sidecar's /metrics, /readyz and /healthz against a real paired stack: counters move by
 * exactly the sends made, the queue gauges see notifications held while paused, readiness flips to
 * 503 when WhatsApp drops and back when it reconnects, and /metrics is admin-only.
 */
import { startPairedStack, type PairedStack } from './support/paired-stack.js';

let stack: PairedStack;
beforeAll(async () => {
  stack = await startPairedStack({ name: 'metrics' });
  stack.peer.addContact('919876543210');
  stack.peer.addContact('15550009999', { onWhatsApp: false });
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
});

type Samples = Map<string, number>;

/** `name{a="x",b="y"} 1.5` lines → map keyed by `name{a="x",b="y"}` (labels as printed, sorted). */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels = m[2]
      ? `{${m[2]
          .slice(1, -1)
          .split(/,(?=\w+=")/)
          .sort()
          .join(',')}}`
      : '';
    samples.set(`${m[1]}${labels}`, Number(m[3]));
  }
  return samples;
}

async function scrape(): Promise<Samples> {
  const res = await fetch(`${stack.sidecar.url}/metrics`, { headers: { Authorization: `Bearer ${stack.adminPassword}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseMetrics(await res.text());
}

const value = (s: Samples, key: string) => s.get(key) ?? 0;
const readyz = async () => {
  const res = await fetch(`${stack.sidecar.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; reasons?: string[]; checks: Record<string, string> } };
};

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}

test('/metrics refuses a scrape without the admin password', async () => {
  expect((await fetch(`${stack.sidecar.url}/metrics`)).status).toBe(401);
  expect((await fetch(`${stack.sidecar.url}/metrics`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
});

test('sends by outcome and the ack latency histogram move by exactly the sends made', async () => {
  const before = await scrape();
  for (const message of ['metrics one', 'metrics two']) {
    const res = await stack.notify({ apikey: stack.apiKey, phone: '919876543210', message, wait_for_delivery: true });
    expect(res.status).toBe(200);
  }
  const failed = await stack.notify({ apikey: stack.apiKey, phone: '15550009999', message: 'nobody', wait_for_delivery: true });
  expect(failed.status).toBe(502);

  const after = await scrape();
  expect(value(after, 'wa_notify_sends_total{outcome="sent"}') - value(before, 'wa_notify_sends_total{outcome="sent"}')).toBe(2);
  expect(value(after, 'wa_notify_sends_total{outcome="failed"}') - value(before, 'wa_notify_sends_total{outcome="failed"}')).toBe(1);
  expect(after.has('wa_notify_sends_total{outcome="expired"}')).toBe(true);
  // The number not on WhatsApp fails before any send, so only the two texts were acknowledged.
  const acks = (s: Samples) => value(s, 'wa_notify_ack_latency_seconds_count{result="ok"}');
  expect(acks(after) - acks(before)).toBe(2);
  expect(value(after, 'wa_notify_ack_latency_seconds_bucket{le="+Inf",result="ok"}')).toBe(acks(after));
  expect(value(after, 'wa_notify_ack_latency_seconds_sum{result="ok"}')).toBeGreaterThan(0);
  expect(value(after, 'wa_notify_ws_clients')).toBeGreaterThanOrEqual(1);
  expect(value(after, 'wa_notify_whatsapp_open')).toBe(1);
  expect(after.has('wa_notify_sidecar_process_resident_memory_bytes')).toBe(true);
});

test('queue depth and oldest age count what waits while paused; readiness is 503 until it reconnects', async () => {
  expect((await readyz()).status).toBe(200);
  expect((await stack.admin('POST', 'disconnect')).body.state).toBe('paused');
  const paused = await readyz();
  expect(paused.status).toBe(503);
  expect(paused.body).toMatchObject({
    status: 'not_ready',
    checks: { whatsapp: 'paused', storage: 'ok' },
    reasons: ['WhatsApp is paused'],
  });

  for (const message of ['held one', 'held two']) {
    const res = await stack.notify({ apikey: stack.apiKey, phone: '919876543210', message });
    expect(res.status).toBe(200);
    expect(res.body.deferred).toBe(true);
  }
  await new Promise((r) => setTimeout(r, 1_100));
  const held = await scrape();
  expect(held.get('wa_notify_queue_depth')).toBe(2);
  expect(held.get('wa_notify_queue_oldest_age_seconds')).toBeGreaterThanOrEqual(1);
  expect(held.get('wa_notify_queue_oldest_age_seconds')).toBeLessThan(60);
  expect(held.get('wa_notify_whatsapp_open')).toBe(0);

  await stack.admin('POST', 'connect');
  await until('readyz after connect', readyz, (r) => r.status === 200);
  await stack.peer.waitForMessage((m) => m.text === 'held two', 15_000);
  const drained = await until('queue drained', scrape, (s) => s.get('wa_notify_queue_depth') === 0);
  expect(drained.get('wa_notify_queue_oldest_age_seconds')).toBe(0);
});

test('a dropped connection counts as a reconnect and flips readiness until the session is back', async () => {
  const before = await scrape();
  const reconnectsOf = (s: Samples) => [...s].filter(([k]) => k.startsWith('wa_notify_reconnects_total{')).reduce((n, [, v]) => n + v, 0);
  await stack.peer.disconnect('drop');
  // Baileys sees a closed socket; the session goes to connecting and reconnects with backoff.
  const down = await until('readyz after the drop', readyz, (r) => r.status === 503, 10_000);
  expect(down.body.reasons?.[0]).toMatch(/^WhatsApp is (connecting|reconnecting)$/);
  await until('readyz after reconnect', readyz, (r) => r.status === 200, 20_000);
  const after = await scrape();
  expect(reconnectsOf(after) - reconnectsOf(before)).toBe(1);
  // The status API names the same close the counter carries.
  const status = (await stack.admin('GET', 'status')).body as { last_disconnect?: { code?: number } };
  const code = status.last_disconnect?.code === undefined ? 'none' : String(status.last_disconnect.code);
  expect([...after.keys()].some((k) => k.startsWith('wa_notify_reconnects_total{') && k.includes(`code="${code}"`))).toBe(true);
});

test('/healthz is always 200 and needs no auth', async () => {
  const res = await fetch(`${stack.sidecar.url}/healthz`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: 'ok' });
});
