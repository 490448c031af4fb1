// Floor for the notify throughput bench: a bare Node HTTP server that reads the body, parses the
// same JSON and answers the same 200 body the service answers for fire-and-forget — no auth,
// no storage, no sidecar. Prints "LISTENING <port>" once bound to 127.0.0.1.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
      res.end('{"status":"error","message":"body must be valid JSON"}');
      return;
    }
    const queued = body && body.self === true ? 1 : 0;
    const id = `q${new Date().toISOString().replace(/\D/g, '').slice(0, 12)}-${randomBytes(8).toString('hex')}`;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ status: 'success', message: `Queued for ${queued} recipient(s)`, queued, skipped: 0, id }));
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
process.once('SIGTERM', () => process.exit(0));
