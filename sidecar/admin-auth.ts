/**
 * Who may use the admin API: scripts with `Authorization: Bearer <WHATSAPP_ADMIN_PASSWORD>`, and
 * the admin page with a signed-in cookie session. Cookie calls that change state must carry the
 * session's CSRF token (X-CSRF-Token) and must not come from another site (Origin /
 * Sec-Fetch-Site); Bearer calls need neither, since browsers never attach that header on their own.
 * Sign-in failures are rate-limited per client address. Sessions live in memory: a sidecar
 * restart signs everyone out, which is fine for a one-operator page.
 */
import { parseCookie, stringifySetCookie } from 'cookie';
import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Clock } from '../shared/clock.js';
import { ConfigError, type Config } from '../shared/config.js';
import { bearerToken, secretsEqual } from '../shared/constant-time.js';
import { clientAddressOf, isLoopbackHost } from '../shared/forwarded-address.js';
import type { Logger } from '../shared/logger.js';
import { createRateLimiter } from '../shared/rate-limiter.js';
import type { RateLimitSpec } from '../shared/rate-limit-spec.js';
import { isBearerAuthorized } from './admin-bearer-auth.js';
import { HttpError } from './http-error.js';
import type { HttpRouter } from './http-router.js';
import { readJson, sendJson } from './json-http.js';

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

/** Throws the refusal (401, 403 or 429 as an HttpError) unless the request may go on. */
export type AdminAuthorizer = (req: IncomingMessage, mutating: boolean) => void;

export interface AdminAuth {
  authorize: AdminAuthorizer;
  /** Registers /whatsapp/api/session: GET (am I signed in?), POST (sign in), DELETE (sign out). */
  routes(router: HttpRouter): void;
}

interface Session {
  csrf: string;
  expiresAt: number;
}

const signInBody = z.object({ password: z.string().max(1024) });

const PLACEHOLDER_PASSWORDS = new Set([
  'admin',
  'password',
  'changeme',
  'change-me',
  'change_me',
  'secret',
  'whatsapp',
  'openalgo',
  '12345678',
  '123456789012',
]);
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

const firstHeader = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** TLS at this server, or at a reverse proxy in front of it that says so. */
export function cameOverTls(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = firstHeader(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
  return proto === 'https';
}

/** The address sign-in attempts are counted against (shared/forwarded-address.ts says why). */
export function clientAddress(req: IncomingMessage): string {
  return clientAddressOf(req.socket.remoteAddress, firstHeader(req.headers['x-forwarded-for']));
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
  // At most maxSessions signed-in browsers; a new sign-in beyond that drops the least recently used.
  const sessions = new LRUCache<string, Session>({ max: maxSessions });

  const sessionOf = (req: IncomingMessage): { id: string; session: Session } | undefined => {
    const id = parseCookie(req.headers.cookie ?? '')[SESSION_COOKIE];
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
    stringifySetCookie({
      name: SESSION_COOKIE,
      value,
      path: COOKIE_PATH,
      maxAge: maxAgeSeconds,
      httpOnly: true,
      sameSite: 'strict',
      secure: cameOverTls(req),
    });

  const disabled = () => new HttpError(401, 'Admin is disabled: set WHATSAPP_ADMIN_PASSWORD');

  const tooManyAttempts = (d: { rate: string; retryAfterSeconds: number }) =>
    new HttpError(429, `Too many failed sign-ins from this address (${d.rate}); try again in ${d.retryAfterSeconds} s`, {
      headers: { 'Retry-After': String(d.retryAfterSeconds) },
    });

  const authorize: AdminAuthorizer = (req, mutating) => {
    // A script's Bearer password is a sign-in too: wrong guesses count against the same limit.
    if (bearerToken(req.headers.authorization) !== undefined) {
      const address = clientAddress(req);
      const blocked = signInLimiter.peek(address);
      if (!blocked.allowed) throw tooManyAttempts(blocked);
      if (isBearerAuthorized(req, password)) return;
      const decision = signInLimiter.hit(address);
      if (!decision.allowed) throw tooManyAttempts(decision);
      throw password === undefined ? disabled() : new HttpError(401, 'Wrong password');
    }
    const found = password === undefined ? undefined : sessionOf(req);
    if (!found) throw password === undefined ? disabled() : new HttpError(401, 'Sign in required');
    if (!mutating) return;
    const crossSite = crossSiteReason(req);
    if (crossSite) {
      log.warn({ reason: crossSite }, 'admin: cross-site request refused');
      throw new HttpError(403, 'Cross-site request refused');
    }
    const token = firstHeader(req.headers[CSRF_HEADER]);
    if (token === undefined || !secretsEqual(token, found.session.csrf)) throw new HttpError(403, 'Missing or invalid CSRF token');
  };

  const signIn = async (req: IncomingMessage): Promise<{ id: string; session: Session }> => {
    if (password === undefined) throw disabled();
    // Login CSRF: another site must not be able to sign this browser in either.
    if (crossSiteReason(req)) throw new HttpError(403, 'Cross-site request refused');
    const address = clientAddress(req);
    const allowed = signInLimiter.peek(address);
    if (!allowed.allowed) throw tooManyAttempts(allowed);
    const body = signInBody.safeParse(await readJson(req));
    if (!body.success || !secretsEqual(body.data.password, password)) {
      const decision = signInLimiter.hit(address);
      log.warn({ address }, 'admin: sign-in refused');
      if (!decision.allowed) throw tooManyAttempts(decision);
      throw new HttpError(401, 'Wrong password');
    }
    // A fresh id on every sign-in (no session fixation).
    const previous = sessionOf(req);
    if (previous) sessions.delete(previous.id);
    const id = randomBytes(32).toString('base64url');
    const session: Session = { csrf: randomBytes(32).toString('base64url'), expiresAt: clock.now() + ttlMs };
    sessions.set(id, session);
    log.info({ address }, 'admin: signed in');
    return { id, session };
  };

  return {
    authorize,
    routes(router) {
      router.on('GET', SESSION_ROUTE, (req, res) => {
        const found = password === undefined ? undefined : sessionOf(req);
        sendJson(res, 200, {
          signed_in: found !== undefined,
          admin_enabled: password !== undefined,
          ...(found ? { csrf: found.session.csrf } : {}),
        });
      });
      router.on('POST', SESSION_ROUTE, async (req, res) => {
        const { id, session } = await signIn(req);
        sendJson(
          res,
          200,
          { status: 'success', signed_in: true, csrf: session.csrf },
          { 'Set-Cookie': cookie(req, id, Math.floor(ttlMs / 1000)) },
        );
      });
      router.on('DELETE', SESSION_ROUTE, (req, res) => {
        authorize(req, true);
        const found = sessionOf(req);
        if (found) sessions.delete(found.id);
        sendJson(res, 200, { status: 'success', signed_in: false }, { 'Set-Cookie': cookie(req, '', 0) });
      });
    },
  };
}
