/**
 * A command made of subcommands (`apikey create|list|revoke`), and the top level itself. It only
 * dispatches: `-h/--help` and `help <cmd>` print usage on stdout (exit 0); no command, an unknown
 * command or an unknown option print usage on stderr (exit 2).
 */
import { maskPhonesInText } from '../shared/logger.js';
import { EXIT_OK, EXIT_USAGE, type Command } from './command.js';

export interface GroupSpec {
  name: string;
  summary: string;
  /** Extra help paragraphs, shown after the command list. */
  description?: string;
  commands: readonly Command[];
}

export function groupUsage(spec: GroupSpec, path: readonly string[]): string {
  const width = Math.max(...spec.commands.map((c) => c.name.length));
  const lines = [
    `Usage: ${path.join(' ')} <command> [options]`,
    '',
    spec.summary,
    '',
    'Commands:',
    ...spec.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run "${path.join(' ')} <command> --help" for a command's arguments.`,
  ];
  if (spec.description) lines.push('', spec.description);
  return lines.join('\n');
}

export function defineGroup(spec: GroupSpec): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    async run(args, io, path) {
      const usageError = (message: string | undefined): number => {
        if (message) {
          io.err(`${path.join(' ')}: ${maskPhonesInText(message)}`);
          io.err('');
        }
        io.err(groupUsage(spec, path));
        return EXIT_USAGE;
      };
      const [first, ...rest] = args;
      if (first === undefined) return usageError(undefined);
      if (first === '-h' || first === '--help') {
        io.out(groupUsage(spec, path));
        return EXIT_OK;
      }
      // `help apikey create` is `apikey create --help`.
      if (first === 'help') return rest.length === 0 ? this.run(['--help'], io, path) : this.run([...rest, '--help'], io, path);
      if (first.startsWith('-')) return usageError(`unknown option "${first}"`);
      const command = spec.commands.find((c) => c.name === first);
      if (!command) return usageError(`unknown command "${first}"`);
      return command.run(rest, io, [...path, command.name]);
    },
  };
}
