/**
 * `wa-notify users link|unlink|list`: the usernames a caller may notify with `"username"` instead of
 * a phone number. Phones are checked and normalised exactly as the API checks `phone`.
 */
import type { LinkedUserStore } from '../../shared/linked-users.js';
import { loadConfig } from '../../shared/config.js';
import { normalisePhone, PHONE_EXAMPLE } from '../../shared/phone-number.js';
import { CommandFailed, EXIT_OK, type Command } from '../command.js';
import { defineGroup } from '../command-group.js';
import { defineCommand } from '../leaf-command.js';
import { formatTable, formatTimestamp } from '../text-table.js';

export interface UsersCommandDeps {
  openStore(env: NodeJS.ProcessEnv): LinkedUserStore;
}

const MAX_USERNAME = 64;

// Same rule as the API's `username` field: 1 to 64 characters (code points).
function checkUsername(username: string): void {
  const length = [...username].length;
  if (length < 1 || length > MAX_USERNAME) throw new CommandFailed(`username must be 1 to ${MAX_USERNAME} characters`);
}

export function usersCommand(deps: UsersCommandDeps): Command {
  const link = defineCommand({
    name: 'link',
    summary: 'Link a username to a phone number (replacing any earlier link)',
    description:
      'The phone is digits with the country code and an optional leading +; spaces, -, ., ( and )\n' +
      'are removed, e.g. "+91 98765-43210" is stored as 919876543210. It must be a possible number\n' +
      'for its country code; with WHATSAPP_DEFAULT_COUNTRY set (e.g. IN), a national number of that\n' +
      'country gets its code.',
    positionals: ['username', 'phone'],
    options: {},
    async run({ args, io }) {
      checkUsername(args.username);
      const phone = normalisePhone(args.phone, { defaultCountry: loadConfig(io.env).defaultCountry });
      // The reason only: an error line must not echo the number. The example is spaced so the
      // masking of digit runs in error lines leaves it readable.
      if (!phone.ok)
        throw new CommandFailed(
          `invalid phone: ${phone.number === undefined ? '' : 'the number '}${phone.reason.replace(PHONE_EXAMPLE, '+91 98765 43210')}`,
        );
      await deps.openStore(io.env).link(args.username, phone.digits);
      io.out(`Linked "${args.username}" to +${phone.digits}.`);
      return EXIT_OK;
    },
  });

  const unlink = defineCommand({
    name: 'unlink',
    summary: 'Remove the link for a username',
    positionals: ['username'],
    options: {},
    async run({ args, io }) {
      checkUsername(args.username);
      if (!(await deps.openStore(io.env).unlink(args.username))) throw new CommandFailed(`no linked user named "${args.username}"`);
      io.out(`Unlinked "${args.username}".`);
      return EXIT_OK;
    },
  });

  const list = defineCommand({
    name: 'list',
    summary: 'List linked users and their phone numbers',
    positionals: [],
    options: { json: { type: 'boolean', description: 'Print JSON instead of a table' } },
    async run({ options, io }) {
      const users = await deps.openStore(io.env).list();
      if (options.json) {
        io.out(JSON.stringify(users, null, 2));
        return EXIT_OK;
      }
      if (users.length === 0) {
        io.err('No linked users yet. Link one with: wa-notify users link <username> <phone>');
        return EXIT_OK;
      }
      io.out(
        formatTable(
          ['USERNAME', 'PHONE', 'LINKED'],
          users.map((u) => [u.username, `+${u.phone}`, formatTimestamp(u.linkedAt)]),
        ),
      );
      return EXIT_OK;
    },
  });

  return defineGroup({ name: 'users', summary: 'Link usernames to phone numbers', commands: [link, unlink, list] });
}
