#!/usr/bin/env node
/** The `wa-notify` bin: wires the command table to the real process and sets the exit code. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../shared/config.js';
import { COMMANDS } from './commands/index.js';
import { withDevEnv } from './dev-env-file.js';
import { runCli } from './run-cli.js';

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const io = {
  env: withDevEnv(process.env),
  out: (line: string) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void process.stderr.write(`${line}\n`),
};

// exitCode rather than process.exit(): a piped stdout is flushed before the process ends.
process.exitCode = await runCli(process.argv.slice(2), io, { commands: COMMANDS, version: packageVersion() });
