/**
 * Send a WhatsApp notification from Node with the typed client.
 *
 *   export WA_NOTIFY_URL=https://your-function-app.azurewebsites.net   # default http://127.0.0.1:7071
 *   export WA_NOTIFY_APIKEY=…                                          # your API key (required)
 *   npm run build && npx tsx examples/send.ts self "Build #482 finished"
 *   npx tsx examples/send.ts +91XXXXXXXXXX "Deploy done"               # one phone, with its country code
 *   WA_NOTIFY_TO=self npx tsx examples/send.ts "Build #482 finished"   # the recipient from the environment
 *
 * Nothing has a default recipient: without one (or without a key) it sends nothing and exits 2.
 * `wa-notify` resolves to dist/client/ (package.json `exports`), so build first. In another
 * project, install wa-notify and import it the same way.
 */
import { randomUUID } from 'node:crypto';
import { WaNotify, WaNotifyError, type SendRequest } from 'wa-notify';

const USAGE = [
  'usage: send.ts RECIPIENT MESSAGE   (RECIPIENT: self, or a phone number with its country code)',
  '       or set WA_NOTIFY_TO to the recipient and run: send.ts MESSAGE',
].join('\n');

function refuse(reason: string, usage = false): never {
  console.error(`send.ts: ${reason}`);
  if (usage) console.error(USAGE);
  process.exit(2);
}

const apiKey = process.env.WA_NOTIFY_APIKEY;
if (!apiKey) refuse('set WA_NOTIFY_APIKEY to your API key (create one with: npx wa-notify apikey create <name>)');
const args = process.argv.slice(2);
const envTo = process.env.WA_NOTIFY_TO;
const [to, message] =
  args.length === 2
    ? [args[0]!, args[1]!]
    : args.length === 1 && envTo
      ? [envTo, args[0]!]
      : refuse('no recipient: give it as the first argument or set WA_NOTIFY_TO', true);

const wa = new WaNotify({ apiKey }); // the URL from WA_NOTIFY_URL, else http://127.0.0.1:7071
const recipient: SendRequest = to === 'self' ? { self: true } : { phone: to };

try {
  // Wait for WhatsApp's acknowledgement; the idempotency key makes the call safe to retry (the
  // client then retries network errors, 429 and 503 by itself).
  const result = await wa.send({ ...recipient, message, wait_for_delivery: true, idempotency_key: randomUUID() });
  console.log(result.kind, result.message, result.id); // 'delivery', or 'deferred' while WhatsApp is offline
  if (result.kind === 'delivery') {
    for (const f of result.data.failed) console.error(`  ${f.to}: ${f.error}`);
  }
  // Later: per-recipient state (queued, sending, sent, delivered, read, failed, expired).
  const status = await wa.status(result.id);
  console.log(status.recipients.map((r) => `${r.to}: ${r.state}`).join('\n'));
} catch (error) {
  if (!(error instanceof WaNotifyError)) throw error;
  // status 0: no answer (network); 400: `field` names the bad field; 502/504: `report` says who.
  console.error(`HTTP ${error.status}: ${error.message}${error.field ? ` [${error.field}]` : ''}`);
  if (error.report?.data.pending?.length) console.error('still sending:', error.report.data.pending.join(', '));
  process.exitCode = 1;
}
