/**
 * `wa-notify send`: one notification from a shell, through the typed client (client/) and the REST
 * API, so it works from any machine that can reach the function app. The message is the argument,
 * or standard input when none is given and stdin is not a terminal (`make 2>&1 | tail | wa-notify
 * send --self`). Exit codes: 0 sent, queued or deferred (WhatsApp offline: stored, sent when it
 * reconnects), 1 the API refused or failed (or some recipient failed in --wait mode), 2 usage.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WaNotify, type SendRequest, type SendResult, WaNotifyError, DEFAULT_URL } from '../../client/index.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo, type Command } from '../command.js';

export interface SendCommandDeps {
  /** The text piped in, or undefined when stdin is a terminal (nothing to read). */
  readStdin(): Promise<string | undefined>;
}

const MAX_STDIN_BYTES = 1024 * 1024;

/** Reads all of process.stdin (bounded); undefined when it is a TTY. */
export async function readProcessStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError('standard input is larger than 1 MiB');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

class UsageError extends Error {}

const OPTIONS = {
  self: { type: 'boolean', description: 'Send to the paired number itself' },
  phone: { type: 'string', valueName: 'number', description: 'Send to one phone number (country code required)' },
  phones: { type: 'string', valueName: 'a,b,…', description: 'Send to several numbers, comma-separated (first 5 distinct are sent)' },
  username: { type: 'string', valueName: 'name', description: 'Send to a linked username' },
  image: { type: 'string', valueName: 'path', description: 'Image file on the server (JPEG, PNG, WebP), inside its attachment allowlist' },
  document: { type: 'string', valueName: 'path', description: 'Document file on the server, inside its attachment allowlist' },
  caption: { type: 'string', valueName: 'text', description: 'Caption for the image or document' },
  filename: { type: 'string', valueName: 'name', description: 'Display name for the document' },
  wait: { type: 'boolean', description: 'Wait for WhatsApp to acknowledge and print the delivery report' },
  'idempotency-key': {
    type: 'string',
    valueName: 'key',
    description: 'Makes the call safe to repeat (and to retry on network errors, 429, 503)',
  },
  url: { type: 'string', valueName: 'url', description: `Function app base URL (default $WA_NOTIFY_URL, else ${DEFAULT_URL})` },
  apikey: { type: 'string', valueName: 'key', description: 'API key (default $WA_NOTIFY_APIKEY; prefer the variable: flags show in `ps`)' },
  json: { type: 'boolean', description: 'Print the JSON answer instead of a summary line' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
} as const;

function usage(path: readonly string[]): string {
  const labels = Object.entries(OPTIONS).map(([name, o]) => {
    const short = 'short' in o ? `-${o.short}, ` : '    ';
    const value = o.type === 'string' ? ` <${o.valueName}>` : '';
    return [`${short}--${name}${value}`, o.description] as const;
  });
  const width = Math.max(...labels.map(([l]) => l.length));
  return [
    `Usage: ${path.join(' ')} (--self | --phone <number> | --phones <a,b> | --username <name>) [options] [message]`,
    '',
    'Send a WhatsApp notification through the wa-notify API.',
    '',
    'The message is the argument; without one, it is read from standard input when that is not a',
    'terminal. Attachment paths are paths on the server running the function app; a relative path is',
    'made absolute against the current directory.',
    '',
    'Options:',
    ...labels.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`),
    '',
    'Exit status: 0 sent, queued or deferred (WhatsApp offline: stored, sent when it reconnects);',
    '1 the API answered an error, or a recipient failed with --wait;',
    '2 wrong usage.',
    '',
    'Examples:',
    '  WA_NOTIFY_APIKEY=… wa-notify send --self "Build #482 finished"',
    '  tail -n 20 build.log | wa-notify send --phone +919876543210 --wait',
  ].join('\n');
}

function describe(result: SendResult): string {
  if (result.kind === 'deferred') {
    // Exit 0: it is stored and will be sent. Say so, so nobody resends it.
    return `Deferred: ${result.message} (id ${result.id}); it is stored and will be sent, do not resend`;
  }
  if (result.kind !== 'delivery') return `${result.message} (id ${result.id})`;
  const lines = [`${result.message} (id ${result.id})`];
  for (const f of result.data.failed) lines.push(`  failed ${f.to}: ${f.error}`);
  return lines.join('\n');
}

export function sendCommand(deps: SendCommandDeps): Command {
  return {
    name: 'send',
    summary: 'Send a WhatsApp notification through the API (to self, a phone, phones or a username)',
    async run(args, io: CliIo, cmdPath) {
      const fail = (message: string): number => {
        io.err(`${cmdPath.join(' ')}: ${message}`);
        io.err(`Run "${cmdPath.join(' ')} --help" for usage.`);
        return EXIT_USAGE;
      };
      let parsed;
      try {
        const options = Object.fromEntries(Object.entries(OPTIONS).map(([name, { description: _d, ...o }]) => [name, o])) as {
          [K in keyof typeof OPTIONS]: Omit<(typeof OPTIONS)[K], 'description'>;
        };
        parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
      } catch (error) {
        return fail((error instanceof Error ? error.message : String(error)).replace(/ To specify a positional argument.*$/s, ''));
      }
      const o = parsed.values;
      if (o.help) {
        io.out(usage(cmdPath));
        return EXIT_OK;
      }
      if (parsed.positionals.length > 1)
        return fail(`takes at most one message argument, got ${parsed.positionals.length} (quote the message)`);

      const forms = [o.self === true, o.phone !== undefined, o.phones !== undefined, o.username !== undefined].filter(Boolean).length;
      if (forms !== 1)
        return fail(
          forms === 0
            ? 'give a recipient: --self, --phone, --phones or --username'
            : 'give only one of --self, --phone, --phones, --username',
        );

      let message = parsed.positionals[0];
      if (message === undefined) {
        try {
          const piped = await deps.readStdin();
          if (piped !== undefined) message = piped.replace(/(\r?\n)+$/, '');
        } catch (error) {
          if (error instanceof UsageError) return fail(error.message);
          throw error;
        }
      }
      if (message !== undefined && message.trim() === '') message = undefined;
      if (message === undefined && o.image === undefined && o.document === undefined) {
        return fail('no message: give it as an argument or on standard input (or send --image / --document)');
      }

      const apiKey = o.apikey ?? io.env.WA_NOTIFY_APIKEY;
      if (!apiKey) return fail('no API key: set WA_NOTIFY_APIKEY (or pass --apikey)');
      const client = new WaNotify({ url: o.url ?? io.env.WA_NOTIFY_URL ?? DEFAULT_URL, apiKey });

      const recipient: SendRequest = o.self
        ? { self: true }
        : o.phone !== undefined
          ? { phone: o.phone }
          : o.phones !== undefined
            ? {
                phones: o.phones
                  .split(',')
                  .map((p) => p.trim())
                  .filter((p) => p !== ''),
              }
            : { username: o.username! };
      const request: SendRequest = {
        ...recipient,
        ...(message !== undefined ? { message } : {}),
        ...(o.image !== undefined ? { image_path: path.resolve(o.image) } : {}),
        ...(o.document !== undefined ? { document_path: path.resolve(o.document) } : {}),
        ...(o.caption !== undefined ? { caption: o.caption } : {}),
        ...(o.filename !== undefined ? { filename: o.filename } : {}),
        ...(o.wait ? { wait_for_delivery: true } : {}),
        ...(o['idempotency-key'] !== undefined ? { idempotency_key: o['idempotency-key'] } : {}),
      };

      try {
        const result = await client.send(request);
        io.out(o.json ? JSON.stringify(stripKind(result)) : describe(result));
        return result.kind === 'delivery' && result.status === 'error' ? EXIT_FAILURE : EXIT_OK;
      } catch (error) {
        if (!(error instanceof WaNotifyError)) throw error;
        if (o.json && error.report) io.out(JSON.stringify(error.report));
        const where = error.field ? ` [${error.field}]` : '';
        io.err(`${cmdPath.join(' ')}: ${error.status === 0 ? '' : `HTTP ${error.status}: `}${error.message}${where}`);
        if (error.report && !o.json) {
          for (const f of error.report.data.failed) io.err(`  failed ${f.to}: ${f.error}`);
          for (const p of error.report.data.pending ?? []) io.err(`  pending ${p} (sending goes on; id ${error.report.id})`);
        }
        return EXIT_FAILURE;
      }
    },
  };
}

function stripKind(result: SendResult): Omit<SendResult, 'kind'> {
  const { kind: _kind, ...body } = result;
  return body;
}
