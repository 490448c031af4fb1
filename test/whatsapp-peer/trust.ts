/**
 * What a client must trust to talk to the peer: the process-wide root key (generated once, so all
 * peers in one process share it) that signs the Noise certificate chain, the preload that installs
 * it in a child process, and the test CA of the media host.
 */
import { fileURLToPath } from 'node:url';
import { Curve, proto, WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { CA_CERT_PATH } from './media-server.js';
import type { KeyPair } from './noise.js';

export const ROOT_KEY: KeyPair = Curve.generateKeyPair();
export const PRELOAD_PATH = fileURLToPath(new URL('./trust-peer-root.mjs', import.meta.url));
export { CA_CERT_PATH };

export interface ServerIdentity {
  /** the server's Noise static key pair (the leaf certificate's key) */
  serverStatic: KeyPair;
  /** encoded CertChain: root -> intermediate -> leaf */
  certChain: Uint8Array;
}

/** a fresh server static key and its certificate chain root -> intermediate -> leaf */
export function createServerIdentity(): ServerIdentity {
  const serverStatic = Curve.generateKeyPair();
  const intermediate = Curve.generateKeyPair();
  const notBefore = Math.floor(Date.now() / 1000) - 3600;
  const notAfter = notBefore + 10 * 365 * 24 * 3600;
  const interDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 1,
    issuerSerial: WA_CERT_DETAILS.SERIAL,
    key: intermediate.public,
    notBefore,
    notAfter,
  }).finish();
  const leafDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 2,
    issuerSerial: 1,
    key: serverStatic.public,
    notBefore,
    notAfter,
  }).finish();
  const certChain = proto.CertChain.encode({
    intermediate: { details: interDetails, signature: Curve.sign(ROOT_KEY.private, interDetails) },
    leaf: { details: leafDetails, signature: Curve.sign(intermediate.private, leafDetails) },
  }).finish();
  return { serverStatic, certChain };
}

/** env vars for a client running in a child process (merge into the child's env) */
export const childEnv = (existingNodeOptions = ''): Record<string, string> => ({
  WA_PEER_ROOT_PUBLIC_KEY: Buffer.from(ROOT_KEY.public).toString('base64'),
  NODE_OPTIONS: `${existingNodeOptions} --import ${PRELOAD_PATH}`.trim(),
  NODE_EXTRA_CA_CERTS: CA_CERT_PATH,
});

/** sets WA_CERT_DETAILS.PUBLIC_KEY of the Baileys instance this module imported */
export const trustInProcess = (): void => {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(ROOT_KEY.public);
};
