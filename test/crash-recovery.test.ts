/**
 * Nothing answered is lost, nothing is shown twice — with real processes killed:
 * - a recipient being sent when the sidecar dies is resent at once after restart (not after the
 *   120 s lease), under the same message id, and the phone shows it once;
 * - kill -9 the sidecar mid-burst, restart it;
 * - kill -9 the function host (a child process) mid-burst, restart it;
 * - the function ↔ sidecar socket drops during wait_for_delivery.
 * Counted at the loopback WhatsApp peer by distinct message text.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { countAtPeer, chaosScenario } from './support/chaos-burst.js';
import { freePort } from './support/free-port.js';
import { startPairedStack, type PairedStack } from './support/paired-stack.js';
import { DIST } from './support/paths.js';
import { TEST_OUTPUT } from './support/sidecar-process.js';

const CONTACTS = ['919876543210', '919876543211', '447700900123'];
const jidOf = (phone: string) => `${phone}@s.whatsapp.net`;
let stack: PairedStack;

beforeAll(async () => {
  stack = await startPairedStack({ name: 'crash-recovery', env: { WHATSAPP_SEND_BUDGET: 'off', WHATSAPP_SEND_INTERVAL_MS: '0' } });
  for (const c of CONTACTS) stack.peer.addContact(c);
}, 60_000);
afterAll(async () => {
  await stack.dispose();
});

const recipientStates = async (id: string): Promise<string[]> => {
  const res = await fetch(`${stack.fn.url}/api/v1/whatsapp/notify/${id}`, { headers: { 'X-API-KEY': stack.apiKey } });
  if (res.status !== 200) return [];
  return ((await res.json()) as { data: { recipients: { state: string }[] } }).data.recipients.map((r) => r.state);
};
const waitStates = async (id: string, ok: (states: string[]) => boolean, timeoutMs: number): Promise<string[]> => {
  const deadline = Date.now() + timeoutMs;
  let states = await recipientStates(id);
  while (!ok(states) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    states = await recipientStates(id);
  }
  return states;
};
const SENT = ['sent', 'delivered', 'read'];
const restartSidecar = async () => {
  await stack.sidecar.stop({ crash: true });
  await stack.sidecar.start();
};

test('in flight when the sidecar dies: resent at once under the same id, shown once', async () => {
  const resends = stack.peer.stats.duplicates;
  stack.peer.dropAcks(true); // the message reaches the phone, the server ack never comes back
  try {
    const res = await stack.notify({ apikey: stack.apiKey, phone: CONTACTS[0], message: 'in flight at the crash' });
    expect(res.status).toBe(200);
    const first = await stack.peer.waitForMessage((m) => m.text === 'in flight at the crash', 10_000);
    expect(await recipientStates(String(res.body.id))).toEqual(['sending']);
    await stack.sidecar.stop({ crash: true });
    stack.peer.dropAcks(false);
    const restartedAt = Date.now();
    await stack.sidecar.start();
    const states = await waitStates(String(res.body.id), (s) => SENT.includes(s[0] ?? ''), 20_000);
    expect(SENT).toContain(states[0]);
    // The queue lease is 120 s: this came from the restart recognising its own row.
    expect(Date.now() - restartedAt).toBeLessThan(20_000);
    expect(stack.peer.stats.duplicates).toBe(resends + 1);
    const copies = stack.peer.received.filter((m) => m.text === 'in flight at the crash');
    expect(copies.map((m) => m.id)).toEqual([first.id]);
  } finally {
    stack.peer.dropAcks(false);
  }
}, 60_000);

test('a read receipt for a message sent before a restart is recorded: the finished row is read back for it', async () => {
  const res = await stack.notify({ apikey: stack.apiKey, phone: CONTACTS[1], message: 'read after the restart', wait_for_delivery: true });
  expect(res.status).toBe(200);
  const id = String(res.body.id);
  const msg = await stack.peer.waitForMessage((m) => m.text === 'read after the restart', 10_000);
  expect(await waitStates(id, (s) => s[0] === 'delivered', 10_000)).toEqual(['delivered']);
  // Nothing of the row is in the new process's memory: the receipt has to find it in storage.
  await restartSidecar();
  await stack.waitForState('open', 20_000);
  await stack.peer.sendReceipt(msg.id, 'read');
  expect(await waitStates(id, (s) => s[0] === 'read', 10_000)).toEqual(['read']);
}, 60_000);

test('kill -9 the sidecar mid-burst: every answered notification arrives exactly once', async () => {
  const { count, counts } = await chaosScenario({
    scenario: 'kill -9 sidecar mid-burst',
    prefixBase: 'sidecar-kill',
    peer: stack.peer,
    breakIt: restartSidecar,
    send: (i, text) => stack.notify({ apikey: stack.apiKey, phone: CONTACTS[i % CONTACTS.length], message: text }),
    afterBurst: async () => {
      await stack.waitForState('open', 20_000);
    },
  });
  expect(counts.answered).toBeGreaterThan(count / 2);
  expect(counts.lostTexts).toEqual([]);
  expect(counts.duplicated).toBe(0);
  expect(counts.unansweredSentTwice).toBe(0);
}, 120_000);

test('kill -9 the function host mid-burst: nothing answered is lost', async () => {
  const port = await freePort();
  const out = createWriteStream(path.join(TEST_OUTPUT, 'logs', 'crash-recovery.function-host.log'), { flags: 'a' });
  let host: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const startHost = async () => {
    const proc = spawn(process.execPath, [path.join(DIST, 'functions', 'local-host.js')], {
      env: { ...stack.env, FUNCTIONS_PORT: String(port), NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out, { end: false });
    proc.stderr!.pipe(out, { end: false });
    host = proc;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error('function host exited');
      try {
        await fetch(`${url}/api/v1/whatsapp/notify/none`);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('function host did not start');
  };
  const killHost = async () => {
    const proc = host!;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };
  await startHost();
  try {
    const { count, counts } = await chaosScenario({
      scenario: 'kill -9 function host mid-burst',
      prefixBase: 'function-kill',
      peer: stack.peer,
      errorPauseMs: 250,
      breakIt: async () => {
        await killHost();
        await new Promise((r) => setTimeout(r, 300));
        await startHost();
      },
      send: (i, text) => stack.notify({ apikey: stack.apiKey, phone: CONTACTS[i % CONTACTS.length], message: text }, { url }),
    });
    expect(counts.answered).toBeGreaterThan(count / 2);
    expect(counts.lostTexts).toEqual([]);
    expect(counts.duplicated).toBe(0);
  } finally {
    if (host && host.exitCode === null) await killHost();
    out.end();
  }
}, 120_000);

test('the socket to the sidecar drops during wait_for_delivery: a report or 504 pending, and delivery completes', async () => {
  stack.peer.setAckDelay(2_000);
  try {
    const prefix = `socket-drop-${Date.now()}`;
    const text = `${prefix}-00000`;
    const startedAt = Date.now();
    const resendsBefore = stack.peer.stats.duplicates;
    const answer = stack.notify({ apikey: stack.apiKey, phone: CONTACTS[1], message: text, wait_for_delivery: true });
    await stack.peer.waitForMessage((m) => m.text === text, 10_000);
    await restartSidecar();
    const res = await answer;
    const data = res.body.data as { sent: string[]; pending?: string[] };
    if (res.status === 200) expect(data.sent).toEqual([jidOf(CONTACTS[1]!)]);
    else {
      expect(res.status).toBe(504);
      expect(data.pending).toEqual([jidOf(CONTACTS[1]!)]);
    }
    const states = await waitStates(String(res.body.id), (s) => SENT.includes(s[0] ?? ''), 20_000);
    expect(SENT).toContain(states[0]);
    expect(stack.peer.received.filter((m) => m.text === text)).toHaveLength(1);
    const outcomes = [{ index: 0, text, status: res.status }];
    const counts = await countAtPeer({
      scenario: 'socket dropped mid wait_for_delivery',
      peer: stack.peer,
      outcomes,
      prefix,
      resendsBefore,
      startedAt,
      settleMs: 500,
    });
    expect(counts.lost + counts.duplicated).toBe(0);
  } finally {
    stack.peer.setAckDelay(0);
  }
}, 60_000);
