/**
 * What every CLI command is: a name, a one-line summary for its parent's usage, and a run function
 * that answers with an exit code. Groups (`apikey`, `users`) and leaves (`apikey create`) share this
 * shape, so the top-level dispatcher is just the root group.
 */

/** Where a command reads its environment and writes its output; lines, without trailing newline. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  name: string;
  summary: string;
  /** `path` is the words that led here (`['wa-notify', 'apikey']`), for usage lines. */
  run(args: readonly string[], io: CliIo, path: readonly string[]): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure the operator can act on; its message is printed as is, and the exit code is 1. */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}
