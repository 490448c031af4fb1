/**
 * examples/ as a user runs them, against the real function host and sidecar (WhatsApp unpaired, so
 * an accepted notification waits in the queue, where the test reads its recipients): each example
 * refuses to run without a key or a recipient and sends nothing; given both, it sends to exactly
 * the recipient it was given (no numbers of its own).
 */
import { runProcess, type ProcessRun } from './support/run-process.js';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createNotificationQueue } from '../shared/notification-queue.js';
import { PROJECT_ROOT as ROOT } from './support/paths.js';
import { startStack, type Stack } from './support/stack.js';

type Run = ProcessRun;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: 'examples' });
}, 60_000);
afterAll(async () => {
  await stack?.dispose();
});

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const hasPython = spawnSync('python3', ['--version']).status === 0;

const EXAMPLES: Array<{ name: string; command: string[]; enabled: boolean }> = [
  { name: 'send.sh', command: ['bash', path.join(ROOT, 'examples', 'send.sh')], enabled: true },
  { name: 'send.ts', command: [TSX, path.join(ROOT, 'examples', 'send.ts')], enabled: true },
  // python3 ships with the machines this runs on; where it does not, the case says so as skipped.
  { name: 'send.py', command: ['python3', path.join(ROOT, 'examples', 'send.py')], enabled: hasPython },
];

function run(command: string[], args: string[], env: Record<string, string>): Promise<Run> {
  // Only what the examples read, so a developer's WA_NOTIFY_* cannot leak in.
  return runProcess(command[0]!, [...command.slice(1), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', WA_NOTIFY_URL: stack.fn.url, ...env },
  });
}

/** Rows in the notification queue: a refused run must not add any. */
async function queueRowCount(): Promise<number> {
  let n = 0;
  for await (const _ of stack.tables.client('queue').listEntities({ queryOptions: { select: ['RowKey'] } })) n++;
  return n;
}

describe.each(EXAMPLES)('examples/$name', ({ command, enabled }) => {
  const maybe = enabled ? test : test.skip;

  maybe(
    'without an API key: exit 2, says to set WA_NOTIFY_APIKEY, sends nothing (no traceback)',
    async () => {
      const before = await queueRowCount();
      const r = await run(command, ['self', 'hello'], {});
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('set WA_NOTIFY_APIKEY to your API key');
      expect(r.stderr).not.toMatch(/Traceback|at .*\(.*:\d+:\d+\)/);
      expect(r.stdout).toBe('');
      expect(await queueRowCount()).toBe(before);
    },
    60_000,
  );

  maybe(
    'without a recipient (only a message, no WA_NOTIFY_TO): exit 2 with usage, sends nothing',
    async () => {
      const before = await queueRowCount();
      const r = await run(command, ['hello'], { WA_NOTIFY_APIKEY: stack.apiKey });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('no recipient: give it as the first argument or set WA_NOTIFY_TO');
      expect(r.stderr).toContain('usage:');
      const none = await run(command, [], { WA_NOTIFY_APIKEY: stack.apiKey });
      expect(none.code).toBe(2);
      expect(await queueRowCount()).toBe(before);
    },
    60_000,
  );

  maybe(
    'with both: sends to exactly the recipient given (argument, or WA_NOTIFY_TO)',
    async () => {
      const queue = createNotificationQueue(stack.tables);
      const byArg = await run(command, ['+44 7700 900123', 'from the example'], { WA_NOTIFY_APIKEY: stack.apiKey });
      expect(byArg.code).toBe(0);
      const id = /q\d{15}-[0-9a-f]{16}/.exec(byArg.stdout)?.[0];
      expect(id).toBeDefined();
      expect((await queue.get(id!))?.recipients.map((r) => r.to)).toEqual(['447700900123@s.whatsapp.net']);

      const byEnv = await run(command, ['from the environment'], { WA_NOTIFY_APIKEY: stack.apiKey, WA_NOTIFY_TO: '919876543210' });
      expect(byEnv.code).toBe(0);
      const id2 = /q\d{15}-[0-9a-f]{16}/.exec(byEnv.stdout)?.[0];
      expect((await queue.get(id2!))?.recipients.map((r) => r.to)).toEqual(['919876543210@s.whatsapp.net']);
    },
    90_000,
  );

  maybe(
    'a refused number: exit 1 with the API reason on stderr',
    async () => {
      const r = await run(command, ['9876543210', 'x'], { WA_NOTIFY_APIKEY: stack.apiKey });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('phone 9876543210 is not a possible number for +98 (IR)');
      expect(r.stderr).not.toContain('Traceback');
    },
    60_000,
  );
});
