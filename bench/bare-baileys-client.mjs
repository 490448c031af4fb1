// Floor for the WhatsApp benches: the unmodified Baileys client alone (no queue, no storage, no
// function, no sidecar), in its own process like the sidecar, paired with the loopback peer.
// stdout: "QR <qr>", "OPEN <jid>", "RESULT <json>"; stdin: "SEQ <n> <jid|self> <tag>" sends n texts
// one after another, each awaited until the server ack, and prints the per-send times.
import { createInterface } from 'node:readline';
import makeWASocket, { Browsers, generateMessageIDV2, initAuthCreds, jidNormalizedUser } from '@whiskeysockets/baileys';
import pino from 'pino';

const url = process.env.PEER_URL;
if (!url) throw new Error('PEER_URL is required');
const creds = initAuthCreds();
const store = new Map();
const keys = {
  get: async (type, ids) => Object.fromEntries(ids.map((id) => [id, store.get(`${type}:${id}`)]).filter(([, v]) => v !== undefined)),
  set: async (data) => {
    for (const [type, entries] of Object.entries(data)) {
      for (const [id, value] of Object.entries(entries ?? {})) {
        if (value == null) store.delete(`${type}:${id}`);
        else store.set(`${type}:${id}`, value);
      }
    }
  },
};

let sock;
const acks = new Map();
function start() {
  sock = makeWASocket({
    waWebSocketUrl: url,
    auth: { creds, keys },
    logger: pino({ level: 'silent' }),
    version: [2, 3000, 1027934701],
    browser: Browsers.ubuntu('Chrome'),
    shouldSyncHistoryMessage: () => false,
    markOnlineOnConnect: false,
    syncFullHistory: false,
    connectTimeoutMs: 5000,
    defaultQueryTimeoutMs: 5000,
  });
  sock.ws.on('CB:ack,class:message', (node) => {
    const done = acks.get(node.attrs.id);
    if (done) {
      acks.delete(node.attrs.id);
      done(node.attrs.error);
    }
  });
  sock.ev.on('connection.update', (u) => {
    if (u.qr) console.log(`QR ${u.qr}`);
    if (u.connection === 'close') {
      const code = u.lastDisconnect?.error?.output?.statusCode;
      if (code === 515) start();
      else {
        console.log(`CLOSE ${code}`);
        process.exit(2);
      }
    }
    if (u.connection === 'open') console.log(`OPEN ${creds.me?.id}`);
  });
}

async function sequence(n, target, tag) {
  const to = target === 'self' ? jidNormalizedUser(sock.user.id) : target;
  const samples = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const messageId = generateMessageIDV2(sock.user.id);
    // registered before sending, so an ack that races sendMessage's own promise is not missed
    const acked = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ack within 10 s')), 10_000);
      acks.set(messageId, (err) => {
        clearTimeout(timer);
        if (err) reject(new Error(`ack error ${err}`));
        else resolve();
      });
    });
    await sock.sendMessage(to, { text: `${tag}-${i}` }, { messageId });
    await acked;
    samples.push({ id: messageId, ms: performance.now() - start });
  }
  return { samples, totalMs: performance.now() - t0 };
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, n, target, tag] = line.trim().split(/\s+/);
  if (cmd !== 'SEQ') return;
  sequence(Number(n), target, tag)
    .then((r) => console.log(`RESULT ${JSON.stringify(r)}`))
    .catch((e) => console.log(`RESULT ${JSON.stringify({ error: String(e?.stack ?? e) })}`));
});
rl.on('close', () => process.exit(0));
start();
