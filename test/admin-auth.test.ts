/**
 * Who may use the admin API, over real HTTP against the real sidecar process: cookie sessions
 * with CSRF for the page, Bearer for scripts, cross-site refusal, and the sign-in rate limit.
 */
import { startStack, type Stack } from './support/stack.js';
import { assertAdminPasswordSafe } from '../sidecar/admin-auth.js';
import { ConfigError } from '../shared/config.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ name: 'admin-auth' });
});
afterAll(async () => {
  await stack.dispose();
});

const url = (route: string) => `${stack.sidecar.url}/whatsapp/api/${route}`;

/** Sign-in attempts are counted per address; a loopback proxy's X-Forwarded-For picks the bucket. */
async function signIn(password: string, from: string, headers: Record<string, string> = {}) {
  return fetch(url('session'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': from, ...headers },
    body: JSON.stringify({ password }),
  });
}

async function session(from: string) {
  const res = await signIn(stack.adminPassword, from);
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const { csrf } = (await res.json()) as { csrf: string };
  return { cookie, csrf };
}

describe('no credentials', () => {
  test.each([
    ['GET', 'status'],
    ['GET', 'users'],
    ['GET', 'queue'],
    ['GET', 'events'],
    ['GET', 'qr.svg'],
    ['POST', 'disconnect'],
  ])('%s %s → 401', async (method, route) => {
    const res = await fetch(url(route), { method });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ status: 'error', message: 'Sign in required' });
  });

  test('a made-up cookie → 401', async () => {
    const res = await fetch(url('status'), { headers: { Cookie: 'wa_admin_session=forged' } });
    expect(res.status).toBe(401);
  });

  test('GET /whatsapp/api/session says signed out', async () => {
    const res = await fetch(url('session'));
    expect(await res.json()).toEqual({ signed_in: false, admin_enabled: true });
  });
});

describe('sign-in', () => {
  test('the right password sets an HttpOnly, SameSite=Strict cookie scoped to /whatsapp', async () => {
    const res = await signIn(stack.adminPassword, '198.51.100.1');
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^wa_admin_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\/whatsapp/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP here
    const body = (await res.json()) as { csrf: string };
    expect(body.csrf).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });

  test('behind a TLS-terminating proxy (X-Forwarded-Proto: https) the cookie is Secure', async () => {
    const res = await signIn(stack.adminPassword, '198.51.100.2', { 'X-Forwarded-Proto': 'https' });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  test('the cookie reads status; the session route hands back the CSRF token', async () => {
    const { cookie, csrf } = await session('198.51.100.3');
    const status = await fetch(url('status'), { headers: { Cookie: cookie } });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { state: string }).state).toBe('unpaired');
    const s = await fetch(url('session'), { headers: { Cookie: cookie } });
    expect(await s.json()).toEqual({ signed_in: true, admin_enabled: true, csrf });
  });

  test('a cross-site sign-in is refused (login CSRF)', async () => {
    const res = await signIn(stack.adminPassword, '198.51.100.4', { Origin: 'https://evil.example' });
    expect(res.status).toBe(403);
  });
});

describe('state-changing calls with the cookie', () => {
  test('without the CSRF token → 403', async () => {
    const { cookie } = await session('198.51.100.10');
    const res = await fetch(url('disconnect'), { method: 'POST', headers: { Cookie: cookie } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ status: 'error', message: 'Missing or invalid CSRF token' });
  });

  test('with a wrong CSRF token → 403', async () => {
    const { cookie, csrf } = await session('198.51.100.11');
    const res = await fetch(url('users'), {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': `${csrf}x`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'mallory', phone: '919876543210' }),
    });
    expect(res.status).toBe(403);
    expect(((await (await fetch(url('users'), { headers: { Cookie: cookie } })).json()) as { users: unknown[] }).users).toEqual([]);
  });

  test('with the token but a cross-site Origin → 403', async () => {
    const { cookie, csrf } = await session('198.51.100.12');
    const res = await fetch(url('disconnect'), {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf, Origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ status: 'error', message: 'Cross-site request refused' });
  });

  test('with the token but Sec-Fetch-Site: cross-site → 403', async () => {
    const { cookie, csrf } = await session('198.51.100.13');
    const res = await fetch(url('disconnect'), {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(res.status).toBe(403);
  });

  test('with the token and a same-origin Origin → 200', async () => {
    const { cookie, csrf } = await session('198.51.100.14');
    const res = await fetch(url('disconnect'), {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf, Origin: stack.sidecar.url, 'Sec-Fetch-Site': 'same-origin' },
    });
    expect(res.status).toBe(200);
  });

  test('one session’s token does not work with another session’s cookie', async () => {
    const a = await session('198.51.100.15');
    const b = await session('198.51.100.16');
    const res = await fetch(url('disconnect'), { method: 'POST', headers: { Cookie: a.cookie, 'X-CSRF-Token': b.csrf } });
    expect(res.status).toBe(403);
  });

  test('sign-out ends the session', async () => {
    const { cookie, csrf } = await session('198.51.100.17');
    const out = await fetch(url('session'), { method: 'DELETE', headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^wa_admin_session=; .*Max-Age=0/);
    expect((await fetch(url('status'), { headers: { Cookie: cookie } })).status).toBe(401);
  });
});

describe('Bearer for scripts', () => {
  test('works for reads and state changes without any CSRF token', async () => {
    expect((await stack.admin('GET', 'status')).status).toBe(200);
    const res = await stack.admin('POST', 'users', { username: 'script-user', phone: '+91 98765 43210' });
    expect(res.status).toBe(200);
    expect((await stack.admin('DELETE', 'users/script-user')).status).toBe(200);
  });

  test('a wrong Bearer password → 401', async () => {
    const res = await fetch(url('status'), { headers: { Authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
  });

  test('the event stream opens with Bearer and starts with the current status', async () => {
    const controller = new AbortController();
    const res = await fetch(url('events'), { headers: { Authorization: `Bearer ${stack.adminPassword}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 5_000;
    while (!text.includes('event: status') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    expect(text).toMatch(/event: status\ndata: \{"state":"(unpaired|paused)"/);
  });
});

describe('sign-in rate limit', () => {
  test('wrong passwords → 401, then 429 with Retry-After, even for the right password; other addresses unaffected', async () => {
    const from = '203.0.113.9';
    for (let i = 0; i < 5; i++) {
      const res = await signIn(`wrong-${i}`, from);
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    const limited = await signIn('wrong-again', from);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(await limited.json()).toEqual({
      status: 'error',
      message: `Too many failed sign-ins from this address (5 per 5 minutes); try again in ${retryAfter} s`,
    });
    expect((await signIn(stack.adminPassword, from)).status).toBe(429);
    expect((await signIn(stack.adminPassword, '203.0.113.10')).status).toBe(200);
  });
});

describe('start-up password check', () => {
  test.each([
    ['no password', undefined],
    ['a placeholder', 'change-me'],
    ['a short one', 'short'],
  ])('%s on a public bind is a config error', (_name, adminPassword) => {
    expect(() => assertAdminPasswordSafe({ adminPassword, adminHost: '0.0.0.0' })).toThrow(ConfigError);
  });

  test('loopback binds and strong passwords are fine', () => {
    expect(() => assertAdminPasswordSafe({ adminPassword: undefined, adminHost: '127.0.0.1' })).not.toThrow();
    expect(() => assertAdminPasswordSafe({ adminPassword: undefined, adminHost: '::1' })).not.toThrow();
    expect(() => assertAdminPasswordSafe({ adminPassword: undefined, adminHost: 'localhost' })).not.toThrow();
    expect(() => assertAdminPasswordSafe({ adminPassword: 'a-real-long-passphrase', adminHost: '0.0.0.0' })).not.toThrow();
  });

  test('the real sidecar refuses to serve the admin page on 0.0.0.0 with a placeholder password', async () => {
    const { spawnSync } = await import('node:child_process');
    const { DIST } = await import('./support/paths.js');
    const path = await import('node:path');
    const result = spawnSync(process.execPath, [path.join(DIST, 'sidecar', 'sidecar.js')], {
      env: { ...stack.env, WHATSAPP_ADMIN_HOST: '0.0.0.0', WHATSAPP_SIDECAR_PORT: '0', WHATSAPP_ADMIN_PASSWORD: 'changeme' },
      timeout: 15_000,
      encoding: 'utf8',
    });
    expect(result.status).not.toBe(0);
    expect(`${result.stderr}${result.stdout}`).toMatch(/WHATSAPP_ADMIN_PASSWORD must be set to a real password/);
    expect(`${result.stderr}${result.stdout}`).not.toContain('changeme');
  });
});
