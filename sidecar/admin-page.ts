/**
 * Serves the admin page at /whatsapp: the HTML, its stylesheet and script (the script is
 * sidecar/admin-ui/page.ts as compiled by tsc next to this file), the sign-in/out route, the
 * live status stream and the QR as an SVG. The JSON admin API itself stays in admin-api.ts; both
 * use the same authorizer. Every response carries a strict CSP: no inline script or style, no
 * framing, nothing loaded from elsewhere.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../shared/logger.js';
import type { AdminAuth } from './admin-auth.js';
import type { AdminEvents } from './admin-events.js';
import { renderQrSvg } from './admin-events.js';
import { HttpError } from './http-error.js';
import type { HttpRouter } from './http-router.js';
import { PAGE_HTML } from './admin-ui/page-html.js';
import { PAGE_CSS } from './admin-ui/page-styles.js';
import type { WhatsAppSession } from './whatsapp-session.js';

export interface AdminPageDeps {
  auth: AdminAuth;
  events: AdminEvents;
  session: WhatsAppSession;
  log: Logger;
  /** Where the compiled page script lives (default: admin-ui/page.js beside this module). */
  scriptPath?: string;
}

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Registers the page, its assets, the sign-in routes, the status stream and the QR image. */
export function adminPageRoutes(router: HttpRouter, deps: AdminPageDeps): void {
  const { auth, events, session, log } = deps;
  const scriptPath = deps.scriptPath ?? fileURLToPath(new URL('./admin-ui/page.js', import.meta.url));
  let script: Promise<string> | undefined;
  const loadScript = () => {
    script ??= readFile(scriptPath, 'utf8').then((text) => text.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n'));
    script.catch(() => {
      script = undefined; // try again on the next request (e.g. the build was still running)
    });
    return script;
  };

  const send = (res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...SECURITY_HEADERS, ...headers });
    res.end(body);
  };

  router.on('GET', '/whatsapp', (_req, res) => send(res, 200, 'text/html; charset=utf-8', PAGE_HTML));
  router.on('GET', '/whatsapp/assets/page.css', (_req, res) => send(res, 200, 'text/css; charset=utf-8', PAGE_CSS));
  router.on('GET', '/whatsapp/assets/page.js', async (_req, res) => {
    try {
      send(res, 200, 'text/javascript; charset=utf-8', await loadScript());
    } catch (error) {
      log.error({ err: error, scriptPath }, 'admin page script missing: run the build (tsc)');
      send(res, 500, 'text/plain; charset=utf-8', 'admin page script missing; run npm run build');
    }
  });
  auth.routes(router);
  router.on('GET', '/whatsapp/api/events', (req, res) => {
    auth.authorize(req, false);
    events.handle(req, res);
  });
  router.on('GET', '/whatsapp/api/qr.svg', async (req, res) => {
    auth.authorize(req, false);
    const { qr } = session.status();
    if (!qr) throw new HttpError(404, 'No QR code right now: start pairing first');
    send(res, 200, 'image/svg+xml', await renderQrSvg(qr));
  });
}
