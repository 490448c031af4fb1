/**
 * `wa-notify apikey create|list|revoke`: API keys for callers of the notify endpoint. The plain key
 * is printed once, alone on stdout, so `KEY=$(wa-notify apikey create ci)` captures exactly it.
 */
import path from 'node:path';
import { ApiKeyNameTaken, type ApiKeyStore } from '../../shared/api-keys.js';
import { devEnvFile, saveToDevEnv } from '../dev-env-file.js';
import { CommandFailed, EXIT_OK, type Command } from '../command.js';
import { defineGroup } from '../command-group.js';
import { defineCommand } from '../leaf-command.js';
import { formatTable, formatTimestamp } from '../text-table.js';

export interface ApiKeyCommandDeps {
  openStore(env: NodeJS.ProcessEnv): ApiKeyStore;
}

const MAX_NAME = 64;

function checkName(name: string): void {
  const length = [...name].length;
  if (name.trim() === '' || length > MAX_NAME) throw new CommandFailed(`name must be 1 to ${MAX_NAME} characters`);
  // Names are shown in terminal tables; control characters would garble (or spoof) them.
  if (/\p{Cc}/u.test(name)) throw new CommandFailed('name must not contain control characters');
}

const json = { type: 'boolean', description: 'Print JSON instead of a table' } as const;

export function apiKeyCommand(deps: ApiKeyCommandDeps): Command {
  const create = defineCommand({
    name: 'create',
    summary: 'Create an API key and print it once',
    description:
      'The key is printed alone on stdout and is never shown again (only its HMAC is stored).\n' +
      'A name can have one active key at a time; revoke the old one to rotate.',
    positionals: ['name'],
    options: {
      save: {
        type: 'boolean',
        description: 'Also store it as WA_NOTIFY_APIKEY in .data/dev.env (or $WA_NOTIFY_ENV_FILE), where `send` finds it',
      },
    },
    async run({ args, options, io }) {
      checkName(args.name);
      const saveTo = options.save ? devEnvFile(io.env) : undefined;
      if (options.save && saveTo === undefined) throw new CommandFailed('--save needs a file: WA_NOTIFY_ENV_FILE is set to none');
      const store = deps.openStore(io.env);
      try {
        const { key } = await store.create(args.name);
        io.out(key);
        if (saveTo !== undefined) {
          saveToDevEnv(saveTo, 'WA_NOTIFY_APIKEY', key);
          io.err(
            `Created API key "${args.name}" and saved it as WA_NOTIFY_APIKEY in ${path.relative(process.cwd(), saveTo) || saveTo}; \`wa-notify send\` uses it.`,
          );
        } else {
          io.err(`Created API key "${args.name}". Store it now: it cannot be shown again.`);
        }
        return EXIT_OK;
      } catch (error) {
        if (error instanceof ApiKeyNameTaken) {
          throw new CommandFailed(`an active API key named "${args.name}" already exists (revoke it first to rotate)`);
        }
        throw error;
      }
    },
  });

  const list = defineCommand({
    name: 'list',
    summary: 'List API keys (never the keys themselves)',
    positionals: [],
    options: { json },
    async run({ options, io }) {
      const records = await deps.openStore(io.env).list();
      if (options.json) {
        const rows = records.map((r) => ({
          name: r.name,
          active: !r.revokedAt,
          createdAt: r.createdAt,
          lastUsedAt: r.lastUsedAt ?? null,
          revokedAt: r.revokedAt ?? null,
        }));
        io.out(JSON.stringify(rows, null, 2));
        return EXIT_OK;
      }
      if (records.length === 0) {
        io.err('No API keys yet. Create one with: wa-notify apikey create <name>');
        return EXIT_OK;
      }
      const rows = records.map((r) => [
        r.name,
        r.revokedAt ? 'revoked' : 'active',
        formatTimestamp(r.createdAt),
        formatTimestamp(r.lastUsedAt),
        formatTimestamp(r.revokedAt),
      ]);
      io.out(formatTable(['NAME', 'STATUS', 'CREATED', 'LAST USED', 'REVOKED'], rows));
      return EXIT_OK;
    },
  });

  const revoke = defineCommand({
    name: 'revoke',
    summary: 'Revoke the active API key with this name',
    description: 'Callers using it get 401 within seconds (the API caches a valid key for up to 30 s).',
    positionals: ['name'],
    options: {},
    async run({ args, io }) {
      const count = await deps.openStore(io.env).revoke(args.name);
      if (count === 0) throw new CommandFailed(`no active API key named "${args.name}"`);
      io.out(`Revoked API key "${args.name}".`);
      return EXIT_OK;
    },
  });

  return defineGroup({ name: 'apikey', summary: 'Create, list and revoke API keys', commands: [create, list, revoke] });
}
