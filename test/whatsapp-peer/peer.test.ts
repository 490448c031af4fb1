/**
 * Proves the loopback WhatsApp peer against the REAL, unmodified Baileys client (in-process,
 * in-memory auth state). Run: NODE_OPTIONS=--experimental-vm-modules npx jest test/whatsapp-peer
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import makeWASocket, {
  Browsers,
  Curve,
  initAuthCreds,
  WAMessageStatus,
  type AuthenticationCreds,
  type BinaryNode,
  type ConnectionState,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
  type WAMessageUpdate,
  type WAVersion,
} from '@whiskeysockets/baileys';
import pino from 'pino';
import { startWhatsAppPeer, type WhatsAppPeer } from './index.js';

jest.setTimeout(30000);

const VERSION: WAVersion = [2, 3000, 1027934701];
const logger = pino({ level: process.env.BAILEYS_LOG_LEVEL ?? 'silent' });

type Sock = ReturnType<typeof makeWASocket>;

interface Auth {
  creds: AuthenticationCreds;
  keys: SignalKeyStore;
}

function memoryAuth(): Auth {
  const creds = initAuthCreds();
  const store = new Map<string, unknown>();
  const keys: SignalKeyStore = {
    get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
      const out: { [id: string]: SignalDataTypeMap[T] } = {};
      for (const id of ids) {
        const v = store.get(`${type}:${id}`);
        if (v !== undefined) out[id] = v as SignalDataTypeMap[T];
      }
      return out;
    },
    set: async (data: SignalDataSet) => {
      for (const [type, entries] of Object.entries(data)) {
        for (const [id, value] of Object.entries(entries ?? {})) {
          if (value === null || value === undefined) store.delete(`${type}:${id}`);
          else store.set(`${type}:${id}`, value);
        }
      }
    },
  };
  return { creds, keys };
}

interface Client {
  sock: Sock;
  updates: Partial<ConnectionState>[];
  messageUpdates: WAMessageUpdate[];
  serverAcks: BinaryNode[];
}

const openClients: Client[] = [];

function connect(peer: WhatsAppPeer, auth: Auth, extra: Partial<Parameters<typeof makeWASocket>[0]> = {}): Client {
  const sock = makeWASocket({
    waWebSocketUrl: peer.url,
    auth,
    logger,
    version: VERSION,
    browser: Browsers.ubuntu('Chrome'),
    shouldSyncHistoryMessage: () => false,
    markOnlineOnConnect: false,
    syncFullHistory: false,
    connectTimeoutMs: 5000,
    defaultQueryTimeoutMs: 5000,
    // the peer's media host uses a certificate from a test CA (see certs/)
    fetchAgent: new https.Agent({ ca: readFileSync(peer.caCertPath) }),
    ...extra,
  });
  const client: Client = { sock, updates: [], messageUpdates: [], serverAcks: [] };
  sock.ev.on('connection.update', (u) => client.updates.push(u));
  sock.ev.on('messages.update', (u) => client.messageUpdates.push(...u));
  // what the product does to learn that the server accepted a message
  sock.ws.on('CB:ack,class:message', (node: BinaryNode) => client.serverAcks.push(node));
  openClients.push(client);
  return client;
}

function endClient(c: Client): void {
  try {
    c.sock.end(undefined);
  } catch {
    /* already closed */
  }
}

const statusOf = (c: Client): number | undefined => {
  const close = c.updates.find((u) => u.connection === 'close');
  const err = close?.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined;
  return err?.output?.statusCode;
};

let peer: WhatsAppPeer;

beforeAll(async () => {
  // How fast the peer starts is a benchmark figure (npm run bench), not a timed assertion here.
  peer = await startWhatsAppPeer({
    log: process.env.PEER_TEST_LOG ? console.log : undefined,
    // avoid Baileys' uncleared 30 s pre-key-upload timer in this process (see index.ts);
    // the child-process test below exercises the real 812-key upload
    claimPreKeysOnServer: 50,
  });
  peer.trustInProcess();
});

afterAll(async () => {
  for (const c of openClients) endClient(c);
  await peer?.close();
});

/** pairs a fresh client by QR, follows the 515 restart and returns the logged-in client */
async function pairAndLogin(): Promise<{ auth: Auth; client: Client }> {
  const auth = memoryAuth();
  const first = connect(peer, auth);
  const qr = await peer.waitFor(() => first.updates.find((u) => u.qr)?.qr, 5000);
  const dev = await peer.pairWithQr(qr);
  expect(dev.jid).toMatch(/^15550001111:\d+@s\.whatsapp\.net$/);
  await peer.waitFor(() => first.updates.find((u) => u.connection === 'close'), 5000);
  expect(statusOf(first)).toBe(515);
  const client = connect(peer, auth);
  await peer.waitFor(() => client.updates.find((u) => u.connection === 'open'), 5000);
  return { auth, client };
}

describe('whatsapp peer with the real Baileys client', () => {
  let auth: Auth;
  let client: Client;

  test('pairs by QR, restarts on 515 and logs in as a registered device', async () => {
    const before = peer.stats.logins;
    ({ auth, client } = await pairAndLogin());
    expect(auth.creds.me?.id).toMatch(/^15550001111:\d+@s\.whatsapp\.net$/);
    expect(auth.creds.me?.lid).toMatch(/@lid$/);
    expect(auth.creds.registered === true || !!auth.creds.account).toBe(true);
    expect(peer.stats.logins).toBe(before + 1);
    expect(peer.devices.length).toBeGreaterThanOrEqual(1);
  });

  test('sends a text that arrives decrypted and byte-identical, with server ack and receipts', async () => {
    const bob = peer.addContact('15550002222');
    const text = 'Hallo Bob — ünïcödé ✓ 🚀\nline 2';
    const sent = await client.sock.sendMessage(bob.jid, { text });
    const id = sent!.key.id!;
    const got = await peer.waitForMessage((m) => m.id === id);
    expect(got.kind).toBe('text');
    expect(got.to).toBe(bob.jid);
    expect(Buffer.from(got.text!, 'utf8').equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(got.decryptError).toBeUndefined();
    await peer.waitFor(() => client.serverAcks.find((a) => a.attrs.id === id));
    await peer.waitFor(() => client.messageUpdates.find((u) => u.key.id === id && u.update.status === WAMessageStatus.DELIVERY_ACK));
  });

  test('a read receipt yields READ in messages.update', async () => {
    const carol = peer.addContact('15550003333');
    peer.setAutoReceipts({ delivery: false, read: false });
    try {
      const sent = await client.sock.sendMessage(carol.jid, { text: 'read me' });
      const id = sent!.key.id!;
      await peer.waitForMessage((m) => m.id === id && m.acked);
      await new Promise((r) => setTimeout(r, 200)); // past Baileys' own 100 ms upsert debounce
      await peer.sendReceipt(id, 'delivery');
      await peer.waitFor(() => client.messageUpdates.find((u) => u.key.id === id && u.update.status === WAMessageStatus.DELIVERY_ACK));
      await peer.sendReceipt(id, 'read');
      const upd = await peer.waitFor(() => client.messageUpdates.find((u) => u.key.id === id && u.update.status === WAMessageStatus.READ));
      expect(upd.key.remoteJid).toBe(carol.jid);
      expect(upd.key.fromMe).toBe(true);
    } finally {
      peer.setAutoReceipts({ delivery: true, read: false });
    }
  });

  test('an error ack (463) yields status ERROR and no receipts', async () => {
    const dave = peer.addContact('15550004444');
    peer.failAcks(dave.jid, 463);
    // Baileys folds updates arriving < 100 ms after its own upsert of the sent message into that
    // upsert (event-buffer debounce); an ack 200 ms later shows up as messages.update
    peer.setAckDelay(200);
    try {
      const sent = await client.sock.sendMessage(dave.jid, { text: 'will be refused' });
      const id = sent!.key.id!;
      const ack = await peer.waitFor(() => client.serverAcks.find((a) => a.attrs.id === id));
      expect(ack.attrs.error).toBe('463');
      const upd = await peer.waitFor(() => client.messageUpdates.find((u) => u.key.id === id && u.update.status === WAMessageStatus.ERROR));
      expect(upd.update.messageStubParameters?.[0]).toBe('463');
      const got = peer.received.find((m) => m.id === id);
      expect(got?.ackError).toBe('463');
      expect(got?.text).toBe('will be refused');
    } finally {
      peer.clearFailAcks();
      peer.setAckDelay(0);
    }
  });

  test('a message to the own number arrives (device-sent copy for the phone)', async () => {
    const sent = await client.sock.sendMessage(peer.selfJid, { text: 'note to self' });
    const got = await peer.waitForMessage((m) => m.id === sent!.key.id);
    expect(got.to).toBe(peer.selfJid);
    expect(got.text).toBe('note to self');
    await peer.waitFor(() => client.serverAcks.find((a) => a.attrs.id === sent!.key.id));
  });

  test('onWhatsApp reports known numbers as existing and unknown ones as not', async () => {
    peer.addContact('15550005555');
    peer.addContact('15550006666', { onWhatsApp: false });
    const res = (await client.sock.onWhatsApp('15550005555', '15550006666', '15559999999')) ?? [];
    expect(res).toContainEqual({ jid: '15550005555@s.whatsapp.net', exists: true });
    expect(res.find((r) => r.jid.startsWith('15550006666'))?.exists ?? false).toBe(false);
    expect(res.find((r) => r.jid.startsWith('15559999999'))?.exists ?? false).toBe(false);
  });

  test('sends an image and a document; the peer decrypts the uploaded media', async () => {
    const erin = peer.addContact('15550007777');
    const image = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(3000)]);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(5000)]);
    const img = await client.sock.sendMessage(erin.jid, { image, mimetype: 'image/png', caption: 'a picture' });
    const doc = await client.sock.sendMessage(erin.jid, {
      document: pdf,
      mimetype: 'application/pdf',
      fileName: 'report.pdf',
      caption: 'the report',
    });
    const gotImg = await peer.waitForMessage((m) => m.id === img!.key.id);
    expect(gotImg.kind).toBe('image');
    expect(gotImg.caption).toBe('a picture');
    expect(gotImg.mediaError).toBeUndefined();
    expect(gotImg.bytes?.equals(image)).toBe(true);
    const gotDoc = await peer.waitForMessage((m) => m.id === doc!.key.id);
    expect(gotDoc.kind).toBe('document');
    expect(gotDoc.fileName).toBe('report.pdf');
    expect(gotDoc.mimetype).toBe('application/pdf');
    expect(gotDoc.bytesLength).toBe(pdf.length);
    expect(gotDoc.bytes?.equals(pdf)).toBe(true);
  });

  test('a restart with the same creds logs in again without pairing; a parallel login replaces the old one', async () => {
    const pairings = peer.stats.pairings;
    endClient(client);
    await peer.waitFor(() => client.updates.find((u) => u.connection === 'close'));
    const again = connect(peer, auth);
    await peer.waitFor(() => again.updates.find((u) => u.connection === 'open'));
    expect(again.updates.some((u) => u.qr)).toBe(false);
    // one login after the other never had two open at once
    peer.stats.maxLogins = peer.stats.currentLogins;
    expect(peer.stats.maxLogins).toBe(1);
    // a second socket with the same creds while the first is open: WhatsApp replaces the old one
    const third = connect(peer, auth);
    await peer.waitFor(() => third.updates.find((u) => u.connection === 'open'));
    await peer.waitFor(() => again.updates.find((u) => u.connection === 'close'));
    expect(statusOf(again)).toBe(440);
    // ... and the peer saw the two logged in together
    expect(peer.stats.maxLogins).toBe(2);
    expect(peer.stats.currentLogins).toBe(1);
    expect(peer.stats.pairings).toBe(pairings);
    client = third;
  });

  test.each([
    [515, 515],
    [440, 440],
    [405, 405],
    [403, 403],
    ['drop', 428],
  ] as const)('disconnect(%s) surfaces statusCode %s and the client can log in again', async (reason, code) => {
    await peer.disconnect(reason);
    await peer.waitFor(() => client.updates.find((u) => u.connection === 'close'));
    expect(statusOf(client)).toBe(code);
    client = connect(peer, auth);
    await peer.waitFor(() => client.updates.find((u) => u.connection === 'open'));
  });

  test('disconnect(401) logs the device out; its next login fails with 401', async () => {
    await peer.disconnect(401);
    await peer.waitFor(() => client.updates.find((u) => u.connection === 'close'));
    expect(statusOf(client)).toBe(401);
    const retry = connect(peer, auth);
    await peer.waitFor(() => retry.updates.find((u) => u.connection === 'close'));
    expect(statusOf(retry)).toBe(401);
  });

  test('pairing by code: requestPairingCode returns a code and the phone completes the link', async () => {
    const codeAuth = memoryAuth();
    const first = connect(peer, codeAuth);
    await peer.waitFor(() => first.updates.find((u) => u.qr), 5000);
    const code = await first.sock.requestPairingCode(peer.selfPhone);
    expect(code).toMatch(/^[A-Z0-9]{8}$/);
    await peer.waitFor(() => peer.pendingCodeRequests > 0);
    await expect(peer.pairWithCode('WRONG123')).rejects.toThrow(/wrong pairing code/);
    // a wrong code leaves the request pending; the right one links the device
    const first2 = first;
    const dev = await peer.pairWithCode(code);
    expect(dev.pairedBy).toBe('code');
    await peer.waitFor(() => first2.updates.find((u) => u.connection === 'close'));
    expect(statusOf(first2)).toBe(515);
    const logged = connect(peer, codeAuth);
    await peer.waitFor(() => logged.updates.find((u) => u.connection === 'open'));
    expect(codeAuth.creds.me?.id).toBe(dev.jid);
    const sent = await logged.sock.sendMessage(peer.selfJid, { text: 'linked by code' });
    await peer.waitForMessage((m) => m.id === sent!.key.id && m.text === 'linked by code');
  });
});

describe('client in a child process (how the product sidecar is wired)', () => {
  const CHILD = fileURLToPath(new URL('./fixtures/child-client.mjs', import.meta.url));

  function runChild(env: Record<string, string>, onLine: (line: string) => void, timeoutMs = 20000) {
    const child = spawn(process.execPath, [CHILD], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        onLine(line);
      }
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve, reject) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`child timed out; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
      }, timeoutMs);
      child.on('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
    return { exited, lines, stderr: () => stderr };
  }

  let childPeer: WhatsAppPeer;
  beforeAll(async () => {
    // honest pre-key counts: the child must upload its 812 pre-keys
    childPeer = await startWhatsAppPeer();
  });
  afterAll(async () => {
    await childPeer?.close();
  });

  test('with the preload + env the child trusts the peer root, pairs, logs in, uploads pre-keys, sends text + image', async () => {
    const frank = childPeer.addContact('15550008888');
    const pairing: Promise<unknown>[] = [];
    const run = runChild({ ...childPeer.childEnv(), PEER_URL: childPeer.url, TO_JID: frank.jid }, (line) => {
      if (line.startsWith('QR ')) pairing.push(childPeer.pairWithQr(line.slice(3)));
    });
    const code = await run.exited;
    await Promise.all(pairing);
    expect({ code, out: run.lines }).toMatchObject({ code: 0 });
    // the preload mutated the very WA_CERT_DETAILS object the child's own Baileys import uses
    expect(run.lines).toContain(`ROOT ${childPeer.rootPublicKeyBase64}`);
    const ids = run.lines.filter((l) => l.startsWith('SENT ')).map((l) => l.slice(5));
    expect(ids).toHaveLength(2);
    const text = await childPeer.waitForMessage((m) => m.id === ids[0]);
    expect(text.text).toBe('hello from the child process');
    const image = await childPeer.waitForMessage((m) => m.id === ids[1]);
    expect(image.kind).toBe('image');
    expect(image.bytes?.equals(Buffer.alloc(2048, 7))).toBe(true);
    expect(childPeer.devices).toHaveLength(1);
    expect(childPeer.devices[0]!.uploadedPreKeys).toBe(812);
  });

  test('known Baileys rc14 quirk: Curve.verify accepts any well-formed signature (chain check not enforced)', () => {
    // If this starts failing, Baileys verifies the Noise certificate chain for real and the
    // trust-peer-root.mjs preload (already wired above) becomes mandatory rather than belt-and-braces.
    const signer = Curve.generateKeyPair();
    const other = Curve.generateKeyPair();
    const msg = Buffer.from('noise certificate details');
    const sig = Curve.sign(signer.private, msg);
    expect(Curve.verify(other.public, msg, sig)).toBe(true);
  });
});
