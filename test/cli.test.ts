/**
 * The `wa-notify` CLI as operators run it: the compiled bin (`npm run build` first) in a child
 * process, against a real Azurite, checking stdout/stderr/exit codes and what landed in the tables.
 */
import { runProcess, type ProcessRun } from './support/run-process.js';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAzurite, type AzuriteHandle } from './support/azurite.js';
import { DIST } from './support/paths.js';
import { createTableStore } from '../shared/table-store.js';
import { createApiKeyStore, hashApiKey } from '../shared/api-keys.js';
import { createLinkedUserStore } from '../shared/linked-users.js';

const BIN = path.join(DIST, 'cli', 'main.js');
const PEPPER = 'cli-test-pepper';

type Run = ProcessRun;

let azurite: AzuriteHandle;

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  // Only what the CLI reads, so a developer's own WHATSAPP_* variables cannot leak into the test.
  // WA_NOTIFY_ENV_FILE '' : no .data/dev.env of a developer's `npm start` either.
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    WA_NOTIFY_ENV_FILE: '',
    WHATSAPP_TABLES_CONNECTION: azurite.connectionString,
    WHATSAPP_API_KEY_PEPPER: PEPPER,
  };
  return runProcess(process.execPath, [BIN, ...args], { env: { ...base, ...env } });
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npx tsc -p tsconfig.json\` first`);
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.dispose();
});

describe('apikey', () => {
  test('create prints only the key, which hashes to an active record; list shows it; revoke ends it', async () => {
    const created = await cli(['apikey', 'create', 'my-script']);
    expect(created.code).toBe(0);
    const lines = created.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(created.stdout).toBe(`${lines[0]}\n`);
    const key = lines[0]!;
    expect(created.stderr).not.toContain(key);

    const store = createApiKeyStore(createTableStore(azurite.connectionString), PEPPER);
    expect(await store.findActive(hashApiKey(PEPPER, key))).toMatchObject({ name: 'my-script' });

    const table = await cli(['apikey', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+STATUS\s+CREATED\s+LAST USED\s+REVOKED\n/);
    expect(table.stdout).toMatch(/my-script\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+-\s+-/);
    expect(table.stdout).not.toContain(key);

    const json = await cli(['apikey', 'list', '--json']);
    expect(json.code).toBe(0);
    const rows = (JSON.parse(json.stdout) as { name: string }[]).filter((r) => r.name === 'my-script');
    expect(rows).toEqual([expect.objectContaining({ active: true, lastUsedAt: null, revokedAt: null })]);

    const revoked = await cli(['apikey', 'revoke', 'my-script']);
    expect(revoked.code).toBe(0);
    expect(await store.findActive(hashApiKey(PEPPER, key))).toBeUndefined();
    expect((await cli(['apikey', 'list'])).stdout).toMatch(/my-script\s+revoked/);
  });

  test('a name that already has an active key is refused on stderr, with exit 1', async () => {
    expect((await cli(['apikey', 'create', 'twice'])).code).toBe(0);
    const again = await cli(['apikey', 'create', 'twice']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('already exists');
  });

  test('revoking a name with no active key fails', async () => {
    const run = await cli(['apikey', 'revoke', 'nobody']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no active API key named "nobody"');
  });

  test('without WHATSAPP_API_KEY_PEPPER the apikey commands say so and exit 1', async () => {
    const run = await cli(['apikey', 'create', 'no-pepper'], { WHATSAPP_API_KEY_PEPPER: undefined });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('WHATSAPP_API_KEY_PEPPER is not set');
  });
});

describe('users', () => {
  const users = () => createLinkedUserStore(createTableStore(azurite.connectionString));

  test('link normalises the phone like the API; list shows it; unlink removes it', async () => {
    const linked = await cli(['users', 'link', 'alice', '+91 98765-43210']);
    expect(linked.code).toBe(0);
    expect(await users().find('alice')).toMatchObject({ phone: '919876543210' });

    const json = await cli(['users', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toContainEqual(expect.objectContaining({ username: 'alice', phone: '919876543210' }));
    const table = await cli(['users', 'list']);
    expect(table.stdout).toMatch(/^USERNAME\s+PHONE\s+LINKED\n/);
    expect(table.stdout).toMatch(/^alice\s+\+919876543210\s+\d{4}-/m);

    const unlinked = await cli(['users', 'unlink', 'alice']);
    expect(unlinked.code).toBe(0);
    expect(await users().find('alice')).toBeUndefined();
    const again = await cli(['users', 'unlink', 'alice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no linked user named "alice"');
  });

  test('an invalid phone exits 1 naming the problem, without echoing the number', async () => {
    const run = await cli(['users', 'link', 'bob', '0987654321']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('invalid phone: must start with the country code, not 0');
    expect(run.stderr).not.toContain('0987654321');
    const short = await cli(['users', 'link', 'bob', '+91 12']);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('7 to 15 digits');
    expect(await users().find('bob')).toBeUndefined();
    // Contract v1.1: possible for its country code. Without 91 this reads as +98 (Iran).
    const noCode = await cli(['users', 'link', 'bob', '98765 43210']);
    expect(noCode.code).toBe(1);
    expect(noCode.stderr).toBe(
      'wa-notify: invalid phone: the number is not a possible number for +98 (IR); include the country code, e.g. +91 98765 43210\n',
    );
    expect(await users().find('bob')).toBeUndefined();
  });

  test('a username over 64 characters is refused', async () => {
    const run = await cli(['users', 'link', 'x'.repeat(65), '919876543210']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('username must be 1 to 64 characters');
  });
});

describe('usage', () => {
  test.each([
    [[]],
    [['apikey']],
    [['apikey', 'create']],
    [['apikey', 'list']],
    [['apikey', 'revoke']],
    [['users']],
    [['users', 'link']],
    [['users', 'unlink']],
    [['users', 'list']],
  ])('%j --help prints usage on stdout and exits 0', async (words) => {
    const runs = await Promise.all(['--help', '-h'].map((flag) => cli([...words, flag], { WHATSAPP_API_KEY_PEPPER: undefined })));
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: wa-notify/);
      expect(run.stderr).toBe('');
    }
  });

  test.each([[['bogus']], [['apikey', 'bogus']], [['users', 'list', '--bogus']], [['users', 'link', 'only-name']], [[]]])(
    '%j prints usage on stderr and exits 2',
    async (args) => {
      const run = await cli(args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('Usage: wa-notify');
    },
  );
});

describe('development settings file', () => {
  test('WHATSAPP_DEFAULT_COUNTRY (here from the file) gives a national number its country code', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wa-cli-env-'));
    try {
      const file = path.join(dir, 'dev.env');
      // The pepper and the country come from the file alone, as `npm start` writes it.
      writeFileSync(file, `WHATSAPP_API_KEY_PEPPER='${PEPPER}'\nWHATSAPP_DEFAULT_COUNTRY='IN'\n`);
      const linked = await cli(['users', 'link', 'carol', '98765 43210'], { WA_NOTIFY_ENV_FILE: file, WHATSAPP_API_KEY_PEPPER: undefined });
      expect(linked.stderr).toBe('');
      expect(linked.code).toBe(0);
      expect(await createLinkedUserStore(createTableStore(azurite.connectionString)).find('carol')).toMatchObject({
        phone: '919876543210',
      });
      const listed = await cli(['apikey', 'list', '--json'], { WA_NOTIFY_ENV_FILE: file, WHATSAPP_API_KEY_PEPPER: undefined });
      expect(listed.code).toBe(0);
      // The environment wins over the file: an empty country means none.
      const plain = await cli(['users', 'link', 'dave', '98765 43210'], { WA_NOTIFY_ENV_FILE: file, WHATSAPP_DEFAULT_COUNTRY: '' });
      expect(plain.code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
