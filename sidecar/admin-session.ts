/**
 * Who may use the admin API: scripts with `Authorization: Bearer <WHATSAPP_ADMIN_PASSWORD>`, and
 * the admin page with a signed-in cookie session. Cookie calls that change state must carry the
 * session's CSRF token (X-CSRF-Token) and must not come from another site (Origin /
 * Sec-Fetch-Site); Bearer calls need neither, since browsers never attach that header on their own.
 * Sign-in failures are rate-limited per client address. Sessions live in memory: a sidecar
 * restart signs everyone out, which is fine for a one-operator page.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Clock } from '../shared/clock.js';
import { ConfigError, type Config } from '../shared/config.js';
import { bearerToken, secretsEqual } from '../shared/constant-time.js';
import type { Logger } from '../shared/logger.js';
import { createRateLimiter } from '../shared/rate-limiter.js';
import type { RateLimitSpec } from '../shared/rate-limit-spec.js';
import type { AdminAuthorizer } from './admin-api.js';
import { isBearerAuthorized } from './admin-bearer-auth.js';
import { RequestBodyError, readJson, sendJson } from './json-http.js';

export const SESSION_COOKIE = 'wa_admin_session';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_ROUTE = '/whatsapp/api/session';
const COOKIE_PATH = '/whatsapp';

export interface AdminAuthOptions {
  password: string | undefined;
  clock: Clock;
  log: Logger;
  /** Failed sign-ins allowed per client address and window. */
  signInLimit?: RateLimitSpec;
  sessionTtlMs?: number;
  maxSessions?: number;
}

export interface AdminAuth {
  authorize: AdminAuthorizer;
  /** Serves /whatsapp/api/session: GET (am I signed in?), POST (sign in), DELETE (sign out). */
  handleSessionRoute(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

interface Session {
  csrf: string;
  expiresAt: number;
}

const signInBody = z.object({ password: z.string().max(1024) });

/** Loopback binds are reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

const PLACEHOLDER_PASSWORDS = new Set(['admin', 'password', 'changeme', 'change-me', 'change_me', 'secret', 'whatsapp', 'openalgo', '12345678', '123456789012']);
const MIN_EXPOSED_PASSWORD_LENGTH = 12;

/**
 * Refuses to serve the admin page on a non-loopback address without a real password: an admin
 * API reachable through a tunnel with an empty or guessable password is how gateways get hijacked.
 */
export function assertAdminPasswordSafe(config: Pick<Config, 'adminPassword' | 'adminHost'>): void {
  if (isLoopbackHost(config.adminHost)) return;
  const password = config.adminPassword ?? '';
  const weak =
    password.trim() === '' ||
    PLACEHOLDER_PASSWORDS.has(password.trim().toLowerCase()) ||
    /change[-_ ]?me/i.test(password) ||
    password.length < MIN_EXPOSED_PASSWORD_LENGTH;
  if (weak) {
    throw new ConfigError(
      `WHATSAPP_ADMIN_PASSWORD must be set to a real password (at least ${MIN_EXPOSED_PASSWORD_LENGTH} characters, not a placeholder) ` +
        `when the admin page listens on ${config.adminHost}; bind WHATSAPP_ADMIN_HOST to 127.0.0.1 or set a strong password`,
    );
  }
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

const firstHeader = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** TLS at this server, or at a reverse proxy in front of it that says so. */
export function cameOverTls(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = firstHeader(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
  return proto === 'https';
}

/**
 * The address sign-in attempts are counted against. X-Forwarded-For is trusted only from a
 * loopback peer (a reverse proxy or tunnel on this host), and only its last entry, which is the
 * one that proxy appended; a client elsewhere cannot pick its own bucket.
 */
export function clientAddress(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const normalised = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
  if (!isLoopbackHost(normalised)) return normalised;
  const forwarded = firstHeader(req.headers['x-forwarded-for'])
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return forwarded?.at(-1) ?? normalised;
}

/** Why a browser request must be refused as cross-site, or undefined when it looks same-origin. */
export function crossSiteReason(req: IncomingMessage): string | undefined {
  const site = firstHeader(req.headers['sec-fetch-site'])?.toLowerCase();
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site ${site}`;
  const origin = firstHeader(req.headers.origin);
  if (origin === undefined) return undefined;
  const host = (firstHeader(req.headers['x-forwarded-host'])?.split(',')[0] ?? req.headers.host ?? '').trim().toLowerCase();
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return 'unreadable Origin';
  }
  return originHost !== '' && originHost === host ? undefined : 'Origin of another site';
}

export function createAdminAuth(options: AdminAuthOptions): AdminAuth {
  const { password, clock, log } = options;
  const ttlMs = options.sessionTtlMs ?? 12 * 3_600_000;
  const maxSessions = options.maxSessions ?? 50;
  const signInLimiter = createRateLimiter(options.signInLimit ?? { limit: 5, windowMs: 5 * 60_000 }, clock, 10_000);
  const sessions = new Map<string, Session>();

  const sessionOf = (req: IncomingMessage): { id: string; session: Session } | undefined => {
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (!id) return undefined;
    const session = sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= clock.now()) {
      sessions.delete(id);
      return undefined;
    }
    return { id, session };
  };

  const cookie = (req: IncomingMessage, value: string, maxAgeSeconds: number) =>
    [`${SESSION_COOKIE}=${value}`, `Path=${COOKIE_PATH}`, `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict', ...(cameOverTls(req) ? ['Secure'] : [])].join('; ');

  const refuse = (res: ServerResponse, status: 401 | 403, message: string) => sendJson(res, status, { status: 'error', message });

  const tooManyAttempts = (res: ServerResponse, d: { rate: string; retryAfterSeconds: number }) =>
    sendJson(
      res,
      429,
      { status: 'error', message: `Too many failed sign-ins from this address (${d.rate}); try again in ${d.retryAfterSeconds} s` },
      { 'Retry-After': String(d.retryAfterSeconds) },
    );

  const authorize: AdminAuthorizer = (req, res, mutating) => {
    // A script's Bearer password is a sign-in too: wrong guesses count against the same limit.
    if (bearerToken(req.headers.authorization) !== undefined) {
      const address = clientAddress(req);
      const blocked = signInLimiter.peek(address);
      if (!blocked.allowed) {
        tooManyAttempts(res, blocked);
        return false;
      }
      if (isBearerAuthorized(req, password)) return true;
      const decision = signInLimiter.hit(address);
      if (!decision.allowed) tooManyAttempts(res, decision);
      else refuse(res, 401, password === undefined ? 'Admin is disabled: set WHATSAPP_ADMIN_PASSWORD' : 'Wrong password');
      return false;
    }
    const found = password === undefined ? undefined : sessionOf(req);
    if (!found) {
      refuse(res, 401, password === undefined ? 'Admin is disabled: set WHATSAPP_ADMIN_PASSWORD' : 'Sign in required');
      return false;
    }
    if (!mutating) return true;
    const crossSite = crossSiteReason(req);
    if (crossSite) {
      log.warn({ reason: crossSite }, 'admin: cross-site request refused');
      refuse(res, 403, 'Cross-site request refused');
      return false;
    }
    const token = firstHeader(req.headers[CSRF_HEADER]);
    if (token === undefined || !secretsEqual(token, found.session.csrf)) {
      refuse(res, 403, 'Missing or invalid CSRF token');
      return false;
    }
    return true;
  };

  const signIn = async (req: IncomingMessage, res: ServerResponse) => {
    if (password === undefined) return refuse(res, 401, 'Admin is disabled: set WHATSAPP_ADMIN_PASSWORD');
    // Login CSRF: another site must not be able to sign this browser in either.
    if (crossSiteReason(req)) return refuse(res, 403, 'Cross-site request refused');
    const address = clientAddress(req);
    const allowed = signInLimiter.peek(address);
    if (!allowed.allowed) return tooManyAttempts(res, allowed);
    const body = signInBody.safeParse(await readJson(req));
    if (!body.success || !secretsEqual(body.data.password, password)) {
      const decision = signInLimiter.hit(address);
      log.warn({ address }, 'admin: sign-in refused');
      if (!decision.allowed) return tooManyAttempts(res, decision);
      return refuse(res, 401, 'Wrong password');
    }
    // A fresh id on every sign-in (no session fixation); drop the oldest when full.
    const previous = sessionOf(req);
    if (previous) sessions.delete(previous.id);
    while (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session: Session = { csrf: randomBytes(32).toString('base64url'), expiresAt: clock.now() + ttlMs };
    sessions.set(id, session);
    log.info({ address }, 'admin: signed in');
    sendJson(res, 200, { status: 'success', signed_in: true, csrf: session.csrf }, { 'Set-Cookie': cookie(req, id, Math.floor(ttlMs / 1000)) });
  };

  return {
    authorize,
    async handleSessionRoute(req, res) {
      const method = (req.method ?? 'GET').toUpperCase();
      try {
        if (method === 'GET') {
          const found = password === undefined ? undefined : sessionOf(req);
          return sendJson(res, 200, { signed_in: found !== undefined, admin_enabled: password !== undefined, ...(found ? { csrf: found.session.csrf } : {}) });
        }
        if (method === 'POST') return await signIn(req, res);
        if (method === 'DELETE') {
          if (!authorize(req, res, true)) return;
          const found = sessionOf(req);
          if (found) sessions.delete(found.id);
          return sendJson(res, 200, { status: 'success', signed_in: false }, { 'Set-Cookie': cookie(req, '', 0) });
        }
        sendJson(res, 405, { status: 'error', message: 'Method not allowed' }, { Allow: 'GET, POST, DELETE' });
      } catch (error) {
        if (error instanceof RequestBodyError) return sendJson(res, error.status, { status: 'error', field: 'body', message: error.message });
        throw error;
      }
    },
  };
}
