/**
 * The `wa-notify` program: the root command group over the command table, plus `--version`, and the
 * one place errors become exit codes (1 with a one-line message on stderr; usage errors are 2).
 */
import { EXIT_FAILURE, EXIT_OK, type CliIo, type Command } from './command.js';
import { defineGroup } from './command-group.js';
import { describeError } from './error-message.js';

export const PROGRAM = 'wa-notify';

const ENVIRONMENT = `Environment (the same variables the services read):
  WHATSAPP_TABLES_CONNECTION  Azure Table storage connection string (default: local Azurite)
  AZURITE_TABLE_PORT          Azurite table port when no connection string is set (default 10002)
  WHATSAPP_API_KEY_PEPPER     HMAC pepper for API keys; required by the apikey commands
  WA_NOTIFY_URL               where \`send\` posts (default http://127.0.0.1:7071)
  WA_NOTIFY_APIKEY            the API key \`send\` uses (\`apikey create <name> --save\` stores it)
  WHATSAPP_DEFAULT_COUNTRY    e.g. IN: a national number of that country gets its country code
  WA_NOTIFY_ENV_FILE          a file of KEY='value' lines read under the environment
                              (default .data/dev.env, which \`npm start\` writes; '' for none)

On the machine running \`npm start\`, the commands need no set-up: .data/dev.env supplies the rest.`;

export function createProgram(commands: readonly Command[]): Command {
  return defineGroup({
    name: PROGRAM,
    summary: 'Send WhatsApp notifications and administer wa-notify: API keys and linked users.',
    description: ENVIRONMENT,
    commands,
  });
}

export async function runCli(argv: readonly string[], io: CliIo, deps: { commands: readonly Command[]; version: string }): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.out(deps.version);
    return EXIT_OK;
  }
  try {
    return await createProgram(deps.commands).run(argv, io, [PROGRAM]);
  } catch (error) {
    io.err(`${PROGRAM}: ${describeError(error)}`);
    return EXIT_FAILURE;
  }
}
