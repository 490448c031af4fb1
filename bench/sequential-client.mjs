// The wait_for_delivery latency client, in a process of its own: the bench process also hosts the
// loopback WhatsApp peer, whose work after each ack (receipts, its own bookkeeping) would otherwise
// sit between the HTTP answer and the timer reading it. The Baileys-alone floor measures in its own
// process too (bench/bare-baileys-client.mjs), so both figures are taken alike.
// argv: url, a JSON body template, a tag, a count. Sends `count` requests one after another, each
// with `message: <tag>-<i>`; stdout: one JSON line { samples: [{ text, ms, status }] }.
import http from 'node:http';

const [url, template, tag, count] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const post = (body) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });

const samples = [];
for (let i = 0; i < Number(count); i++) {
  const text = `${tag}-${i}`;
  const body = JSON.stringify({ ...JSON.parse(template), message: text });
  const t0 = performance.now();
  const res = await post(body);
  samples.push({ text, ms: performance.now() - t0, status: res.status, ...(res.status === 200 ? {} : { body: res.body }) });
}
agent.destroy();
process.stdout.write(`${JSON.stringify({ samples })}\n`);
