/**
 * The sidecar process: `node dist/sidecar/main.js`. Long-running, on an always-on host; owns the
 * WhatsApp session. Prints the pairing QR in the terminal as well as on the admin page.
 */
import qrcode from 'qrcode-terminal';
import { loadConfig } from '../shared/config.js';
import { startSidecar } from './sidecar-app.js';

const config = loadConfig();
const app = await startSidecar({
  config,
  printQr: (qr) => qrcode.generate(qr, { small: true }, (art: string) => process.stderr.write(`Scan with WhatsApp → Linked devices:\n${art}\n`)),
});

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal }, 'sidecar stopping');
  await app.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
