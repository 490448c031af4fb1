/**
 * A command that does one thing (`apikey create`): parses its arguments with node's util.parseArgs,
 * answers `-h/--help`, and checks the positional count, so each command only states what it takes.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT_OK, EXIT_USAGE, type CliIo, type Command } from './command.js';

// @types/node does not export the per-option config type; this is it.
type ParseArgsOptionConfig = NonNullable<ParseArgsConfig['options']>[string];

export type OptionSpec = ParseArgsOptionConfig & { description: string; valueName?: string };
export type OptionSpecs = Record<string, OptionSpec>;

type OptionValue<S extends OptionSpec> = S['type'] extends 'boolean'
  ? S['multiple'] extends true
    ? boolean[]
    : boolean
  : S['multiple'] extends true
    ? string[]
    : string;

export type OptionValues<O extends OptionSpecs> = { [K in keyof O]?: OptionValue<O[K]> };

export interface LeafInput<O extends OptionSpecs, P extends string> {
  args: Record<P, string>;
  options: OptionValues<O>;
  io: CliIo;
}

export interface LeafSpec<O extends OptionSpecs, P extends string> {
  name: string;
  summary: string;
  /** Extra help paragraphs, shown under the usage line. */
  description?: string;
  /** Required positional arguments, in order. */
  positionals: readonly P[];
  options: O;
  run(input: LeafInput<O, P>): Promise<number>;
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help' };

export function leafUsage<O extends OptionSpecs, P extends string>(spec: LeafSpec<O, P>, path: readonly string[]): string {
  const optionNames = Object.keys(spec.options).length > 0 ? ' [options]' : '';
  const positionals = spec.positionals.map((p) => ` <${p}>`).join('');
  const lines = [`Usage: ${path.join(' ')}${optionNames}${positionals}`, '', spec.summary];
  if (spec.description) lines.push('', spec.description);
  const all: [string, OptionSpec][] = [...Object.entries(spec.options), ['help', HELP]];
  const labels = all.map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : '    ';
    const value = o.type === 'string' ? ` <${o.valueName ?? 'value'}>` : '';
    return `${short}--${name}${value}`;
  });
  const width = Math.max(...labels.map((l) => l.length));
  lines.push('', 'Options:', ...all.map(([, o], i) => `  ${labels[i]!.padEnd(width)}  ${o.description}`));
  return lines.join('\n');
}

export function defineCommand<O extends OptionSpecs, P extends string>(spec: LeafSpec<O, P>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    async run(args, io, path) {
      const usageError = (message: string): number => {
        io.err(`${path.join(' ')}: ${message}`);
        io.err('');
        io.err(leafUsage(spec, path));
        return EXIT_USAGE;
      };
      let parsed: ReturnType<typeof parseArgs>;
      try {
        // Strip the help-only `description`/`valueName` so parseArgs sees plain option configs.
        const options: Record<string, ParseArgsOptionConfig> = { help: { type: 'boolean', short: 'h' } };
        for (const [name, { description: _d, valueName: _v, ...config }] of Object.entries(spec.options)) options[name] = config;
        parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
      } catch (error) {
        // parseArgs appends advice about `--` to unknown options; the usage below says enough.
        const message = error instanceof Error ? error.message : String(error);
        return usageError(message.replace(/ To specify a positional argument.*$/s, ''));
      }
      if (parsed.values.help === true) {
        io.out(leafUsage(spec, path));
        return EXIT_OK;
      }
      const given = parsed.positionals;
      if (given.length < spec.positionals.length) return usageError(`missing <${spec.positionals[given.length]}>`);
      // Counted, not echoed: a stray argument may be a phone number.
      if (given.length > spec.positionals.length) {
        return usageError(`takes ${spec.positionals.length} argument(s), got ${given.length}`);
      }
      const positional = Object.fromEntries(spec.positionals.map((name, i) => [name, given[i]!])) as Record<P, string>;
      const { help: _help, ...values } = parsed.values;
      // parseArgs has checked every value against `spec.options`, so the mapped type holds.
      return spec.run({ args: positional, options: values as OptionValues<O>, io });
    },
  };
}
