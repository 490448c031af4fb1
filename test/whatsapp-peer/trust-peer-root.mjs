// Preload for a Baileys client running in a CHILD process that must talk to the loopback
// WhatsApp peer (test/whatsapp-peer). Start the child with
//   NODE_OPTIONS="--import /abs/path/test/whatsapp-peer/trust-peer-root.mjs"
//   WA_PEER_ROOT_PUBLIC_KEY=<peer.rootPublicKeyBase64>
// It replaces the Noise certificate root key Baileys verifies the server's chain against
// (WA_CERT_DETAILS.PUBLIC_KEY). ES modules are singletons per resolved URL, so the product's own
// `import ... from '@whiskeysockets/baileys'` sees the same, mutated object. Test-only: production
// never loads this file.
import { WA_CERT_DETAILS } from '@whiskeysockets/baileys';

const b64 = process.env.WA_PEER_ROOT_PUBLIC_KEY;
if (!b64) {
  throw new Error('trust-peer-root.mjs: WA_PEER_ROOT_PUBLIC_KEY is not set');
}
const key = Buffer.from(b64, 'base64');
if (key.length !== 32) {
  throw new Error(`trust-peer-root.mjs: WA_PEER_ROOT_PUBLIC_KEY must be 32 bytes (base64), got ${key.length}`);
}
WA_CERT_DETAILS.PUBLIC_KEY = key;
