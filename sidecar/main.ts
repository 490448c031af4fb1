/**
 * The sidecar process: `node dist/sidecar/sidecar.js`, this entry bundled by scripts/bundle-sidecar.mjs.
 * Long-running, on an always-on host; owns the WhatsApp session. Prints the pairing QR in the terminal
 * as well as on the admin page.
 */
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { startSidecar } from './sidecar-app.js';

const config = loadConfig();
const log = createLogger({ level: config.logLevel, name: 'sidecar' });
// Baileys' Signal library prints whole sessions (private ratchet keys) with console.info/warn, and
// on a server stdout is the log. Console calls go to the masked logger as their text only, never
// their objects.
const consoleLog = log.child({ component: 'console' });
const consoleText = (args: unknown[]) => args.filter((a) => typeof a === 'string' || typeof a === 'number').join(' ');
console.log = console.info = console.debug = (...args: unknown[]) => consoleLog.debug(consoleText(args));
console.warn = (...args: unknown[]) => consoleLog.warn(consoleText(args));
console.error = (...args: unknown[]) => consoleLog.error(consoleText(args));

const app = await startSidecar({
  config,
  log,
  // Loaded only while pairing: a paired sidecar, restarted, never prints a QR.
  printQr: (qr) =>
    void import('qrcode')
      .then(({ default: QRCode }) => QRCode.toString(qr, { type: 'terminal', small: true }))
      .then((art) => process.stderr.write(`Scan with WhatsApp → Linked devices:\n${art}\n`))
      .catch((error: unknown) => log.warn({ err: error }, 'could not print the pairing QR')),
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
