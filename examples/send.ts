/**
 * Send a WhatsApp notification from Node with the typed client.
 *
 *   export WA_NOTIFY_URL=https://your-function-app.azurewebsites.net   # default http://127.0.0.1:7071
 *   export WA_NOTIFY_APIKEY=…
 *   npm run build && npx tsx examples/send.ts
 *
 * `wa-notify` resolves to dist/client/ (package.json `exports`), so build first. In another
 * project, install wa-notify and import it the same way.
 */
import { WaNotify, WaNotifyError } from 'wa-notify';

const wa = new WaNotify(); // url and apiKey from WA_NOTIFY_URL / WA_NOTIFY_APIKEY

try {
  // Fire-and-forget to the paired phone itself.
  const queued = await wa.send({ self: true, message: 'Build #482 finished in 1m 23s' });
  console.log(queued.kind, queued.message, queued.id); // 'queued' (or 'deferred' while WhatsApp is offline)

  // Wait for WhatsApp's acknowledgement; the key makes the call safe to retry (the client then
  // retries network errors, 429 and 503 by itself).
  const report = await wa.send({
    phones: ['+91 98765 43210', '447700900123'],
    message: 'Deploy finished: v2.3.1 is live',
    wait_for_delivery: true,
    idempotency_key: 'deploy-v2.3.1',
  });
  if (report.kind === 'delivery') {
    console.log(`sent to ${report.data.sent.length}, failed ${report.data.failed.length}`);
    for (const f of report.data.failed) console.error(`  ${f.to}: ${f.error}`);
  }

  // Later: per-recipient state (queued, sending, sent, delivered, read, failed, expired).
  const status = await wa.status(report.id);
  console.log(status.recipients.map((r) => `${r.to}: ${r.state}`).join('\n'));
} catch (error) {
  if (!(error instanceof WaNotifyError)) throw error;
  // status 0: no answer (network); 400: `field` names the bad field; 502/504: `report` says who.
  console.error(`HTTP ${error.status}: ${error.message}${error.field ? ` [${error.field}]` : ''}`);
  if (error.report?.data.pending?.length) console.error('still sending:', error.report.data.pending.join(', '));
  process.exitCode = 1;
}
