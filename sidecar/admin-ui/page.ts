/**
 * The admin page's script (runs in the browser; compiled by the project's tsc to
 * dist/sidecar/admin-ui/page.js and served by the sidecar). It signs in, follows the session
 * status over one server-sent-events stream, and drives the JSON admin API with the session's
 * CSRF token. All text goes in through textContent, never as HTML.
 */
import type { ClipboardLike, DocumentLike, El, EventSourceConstructor, EventSourceLike, MessageEv } from './dom-subset.js';

declare const document: DocumentLike & { execCommand(command: string): boolean };
declare const EventSource: EventSourceConstructor;
declare const navigator: { clipboard?: ClipboardLike };
declare function confirm(message: string): boolean;

const API = '/whatsapp/api';

interface Status {
  state: 'unpaired' | 'pairing' | 'connecting' | 'open' | 'paused' | 'logged_out';
  me?: string;
  qr?: string;
  qr_image?: string;
  pairing_code?: string;
  last_disconnect?: { code?: number; reason: string; at: string };
  standby?: boolean;
  holder?: string;
}
interface LinkedUser {
  username: string;
  phone: string;
  linkedAt: string;
}
interface ApiKey {
  name: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}
interface QueueRow {
  id: string;
  index: number;
  to: string;
  state: string;
  attempts: number;
  error?: string;
  updated_at: string;
}
interface QueueView {
  depth: number;
  oldest_age_seconds: number;
  recipients: QueueRow[];
  recent?: QueueRow[];
}
type Json = Record<string, unknown>;
interface ApiResult {
  status: number;
  body: Json;
  retryAfter: string | null;
}

const $ = (id: string): El => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el;
};

function h(tag: string, text?: string, className?: string): El {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

let csrf: string | undefined;
let events: EventSourceLike | undefined;
let lastState: Status['state'] | undefined;
/** Pairing was seen since the page opened: the next `open` is a new link, worth saying so. */
let pairingSeen = false;
let queueTimer: ReturnType<typeof setInterval> | undefined;

async function api(method: string, path: string, body?: unknown): Promise<ApiResult> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(`${API}/${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  let parsed: Json = {};
  try {
    parsed = (await res.json()) as Json;
  } catch {
    /* empty or non-JSON body */
  }
  if (res.status === 401 && path !== 'session') showSignIn('Your session ended; sign in again.');
  return { status: res.status, body: parsed, retryAfter: res.headers.get('Retry-After') };
}

const messageOf = (r: ApiResult, fallback: string): string =>
  typeof r.body.message === 'string' ? r.body.message : `${fallback} (HTTP ${r.status})`;

function say(el: El, text: string, kind: 'ok' | 'error' | '' = ''): void {
  el.textContent = text;
  el.classList.remove('ok', 'error');
  if (kind) el.classList.add(kind);
}

/** Runs an action with its button disabled, so a double tap sends once. */
async function busy(button: El, action: () => Promise<void>): Promise<void> {
  if (button.disabled) return;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    await action();
  } catch (error) {
    showPageError(`Could not reach the sidecar: ${(error as Error).message}`);
  } finally {
    button.removeAttribute('aria-busy');
    button.disabled = false;
    if (lastState) applyButtonStates(lastState);
  }
}

function showPageError(text: string | undefined): void {
  const el = $('page-error');
  el.textContent = text ?? '';
  el.hidden = !text;
}

const phoneOf = (jid: string): string => (jid === 'self' ? 'self (paired number)' : `+${jid.replace(/[:@].*$/, '')}`);

function ago(iso: string | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '—';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 360) / 10} h`;
}

// ---- sign-in ---------------------------------------------------------------------------------

function showSignIn(message?: string): void {
  csrf = undefined;
  events?.close();
  events = undefined;
  if (queueTimer) clearInterval(queueTimer);
  queueTimer = undefined;
  lastState = undefined;
  $('app-view').hidden = true;
  $('sign-out').hidden = true;
  $('signin-view').hidden = false;
  say($('signin-error'), message ?? '');
  document.title = 'Sign in · wa-notify';
  $('signin-password').focus();
}

async function signIn(password: string): Promise<void> {
  const r = await api('POST', 'session', { password });
  if (r.status === 200 && typeof r.body.csrf === 'string') {
    $('signin-form').reset();
    showApp(r.body.csrf);
    return;
  }
  if (r.status === 429) say($('signin-error'), `Too many attempts. Try again in ${r.retryAfter ?? 'a few'} seconds.`, 'error');
  else say($('signin-error'), messageOf(r, 'Sign-in failed'), 'error');
  $('signin-password').select();
}

async function signOut(): Promise<void> {
  await api('DELETE', 'session');
  showSignIn('Signed out.');
}

// ---- the signed-in page ----------------------------------------------------------------------

function showApp(token: string): void {
  csrf = token;
  $('signin-view').hidden = true;
  $('app-view').hidden = false;
  $('sign-out').hidden = false;
  showPageError(undefined);
  openEvents();
  void loadUsers();
  void loadKeys();
  void loadQueue();
  // The queue is the one thing without a push channel: refresh it gently, only while visible.
  if (queueTimer) clearInterval(queueTimer);
  queueTimer = setInterval(() => {
    if (document.visibilityState === 'visible') void loadQueue();
  }, 15_000);
}

/**
 * Statuses pushed by the event stream so far. An action's answer carries the status as it was when
 * the action started; if the stream pushed a newer one meanwhile (a refused connection can close
 * before the answer arrives), the answer is older: the newest pushed status is drawn again instead,
 * so what it said (e.g. "WhatsApp is unreachable") is said again after the action cleared its line.
 */
let pushedStatuses = 0;
let newestPushed: Status | undefined;
/** Draws an action's answer, or the last pushed status if one came since the action began; returns the one drawn. */
function renderAnswer(s: Status, pushedBefore: number): Status {
  const newest = pushedStatuses === pushedBefore || !newestPushed ? s : newestPushed;
  renderStatus(newest);
  return newest;
}

function openEvents(): void {
  events?.close();
  const source = new EventSource(`${API}/events`);
  events = source;
  source.addEventListener('status', (e: MessageEv) => {
    pushedStatuses++;
    newestPushed = JSON.parse(e.data) as Status;
    renderStatus(newestPushed);
  });
  source.onopen = () => showPageError(undefined);
  source.onerror = () => {
    if (events !== source) return;
    if (source.readyState === 2) {
      // The server refused the stream (signed out, or the sidecar restarted): find out which.
      void checkSession().then((signedIn) => {
        if (signedIn && events === source) setTimeout(openEvents, 3000);
      });
    } else showPageError('Live status lost; reconnecting…');
  };
}

const STATE_LABEL: Record<Status['state'], string> = {
  unpaired: 'Not linked',
  pairing: 'Pairing…',
  connecting: 'Connecting…',
  open: 'Connected',
  paused: 'Paused',
  logged_out: 'Logged out',
};

// Baileys' codes for a socket that never got through or dropped (408 also covers DNS, refused and
// timed-out connections); not 515, WhatsApp's normal "restart" during pairing.
const UNREACHABLE_CODES = new Set([408, 428, 503]);
/** A QR or code arrived since the last pair click: a 408 after that is a QR that expired, not a network problem. */
let pairingGotThrough = false;
let pairRequested = false;

const UNREACHABLE_TEXT =
  'WhatsApp is unreachable: this machine could not connect to WhatsApp. Check its internet connection, DNS, ' +
  'and any firewall or proxy in the way (web.whatsapp.com, port 443; or WHATSAPP_WS_URL if you set one).';

function isUnreachable(s: Status): boolean {
  const d = s.last_disconnect;
  if (!d || (d.code !== undefined && !UNREACHABLE_CODES.has(d.code))) return false;
  if (s.state === 'connecting') return true;
  if (s.state === 'pairing') return !s.qr_image && !s.pairing_code && !pairingGotThrough;
  // Back to unpaired after a pair click that never showed a QR or code: the attempt did not get through.
  return s.state === 'unpaired' && pairRequested && !pairingGotThrough;
}

function stateText(s: Status): string {
  const number = s.me ? phoneOf(s.me) : undefined;
  if (s.standby)
    return `standby: ${s.holder ? `sidecar ${s.holder}` : 'another sidecar'} holds the WhatsApp session; this one takes over if it stops.`;
  if (isUnreachable(s)) {
    return `${UNREACHABLE_TEXT} ${s.state === 'unpaired' ? 'Then pair again.' : 'It keeps retrying by itself.'}`;
  }
  switch (s.state) {
    case 'open':
      return number ? `as ${number}` : '';
    case 'paused':
      return `${number ? `${number} · ` : ''}session kept; notifications wait in the queue until you connect.`;
    case 'connecting':
      return number ? `to ${number}` : '';
    case 'pairing':
      return s.pairing_code ? 'enter the code below on your phone.' : s.qr_image ? 'scan the QR code below.' : 'waiting for WhatsApp…';
    case 'logged_out':
      return 'this device was logged out of WhatsApp. Pair again to send.';
    case 'unpaired':
      return 'pair this service with your phone to send notifications.';
  }
}

function applyButtonStates(state: Status['state']): void {
  $('connect').disabled = !(state === 'paused' || state === 'connecting');
  $('disconnect').disabled = !(state === 'open' || state === 'connecting' || state === 'pairing');
  $('unlink').disabled = !(state === 'open' || state === 'paused' || state === 'connecting');
  $('test-message').disabled = state !== 'open';
}

function renderStatus(s: Status): void {
  if (s.qr_image || s.pairing_code) pairingGotThrough = true;
  const badge = $('state-badge');
  badge.textContent = s.standby ? 'Standby' : (STATE_LABEL[s.state] ?? s.state);
  badge.dataset.state = s.state;
  $('state-text').textContent = stateText(s);
  const last = $('last-disconnect');
  if (s.last_disconnect && s.state !== 'open') {
    last.textContent = `Last disconnect: ${s.last_disconnect.reason}${s.last_disconnect.code ? ` (code ${s.last_disconnect.code})` : ''}, ${ago(s.last_disconnect.at)}.`;
    last.hidden = false;
  } else last.hidden = true;

  const pairingVisible = s.state === 'unpaired' || s.state === 'pairing' || s.state === 'logged_out';
  $('pairing').hidden = !pairingVisible;
  // While pairing: no second "pair" button; the code form stays until a code is shown.
  $('pair-qr').hidden = s.state === 'pairing';
  $('pair-code-form').hidden = s.state === 'pairing' && Boolean(s.pairing_code);
  // Nothing to connect, pause or unlink before a device is linked.
  $('controls-box').hidden = s.state === 'unpaired' || s.state === 'logged_out';
  $('disconnect').textContent = s.state === 'pairing' ? 'Stop pairing' : 'Pause';
  const qrBox = $('qr-box');
  if (s.state === 'pairing' && s.qr_image && !s.pairing_code) {
    const img = $('qr-img');
    if (img.src !== s.qr_image) img.src = s.qr_image;
    qrBox.hidden = false;
  } else qrBox.hidden = true;
  const codeBox = $('code-box');
  if (s.state === 'pairing' && s.pairing_code) {
    // Shown as WhatsApp shows it: two groups of four.
    $('pairing-code').textContent =
      s.pairing_code.length === 8 ? `${s.pairing_code.slice(0, 4)}-${s.pairing_code.slice(4)}` : s.pairing_code;
    codeBox.hidden = false;
  } else codeBox.hidden = true;

  const unreachable = isUnreachable(s);
  $('status-box').dataset.unreachable = unreachable ? 'true' : 'false';
  if (unreachable && pairRequested) say($('action-result'), 'No QR code or pairing code: WhatsApp is unreachable (see above).', 'error');
  if (s.state === 'pairing') pairingSeen = true;
  else if (s.state === 'unpaired' || s.state === 'logged_out') pairingSeen = false;
  if (s.state === 'open' && lastState !== undefined && lastState !== 'open') {
    say($('action-result'), pairingSeen ? `Linked! WhatsApp is connected${s.me ? ` as ${phoneOf(s.me)}` : ''}.` : 'Connected.', 'ok');
    pairingSeen = false;
  }
  lastState = s.state;
  applyButtonStates(s.state);
  document.title = `${STATE_LABEL[s.state] ?? s.state} · wa-notify`;
}

async function checkSession(): Promise<boolean> {
  const r = await api('GET', 'session');
  if (r.body.admin_enabled === false) {
    showSignIn();
    $('signin-view').hidden = true;
    showPageError('The admin page is disabled: set WHATSAPP_ADMIN_PASSWORD on the sidecar and restart it.');
    return false;
  }
  if (r.body.signed_in === true && typeof r.body.csrf === 'string') {
    if (csrf !== r.body.csrf) showApp(r.body.csrf);
    return true;
  }
  showSignIn();
  return false;
}

// ---- connection controls ---------------------------------------------------------------------

async function control(path: string, doing: string): Promise<void> {
  const out = $('action-result');
  if (path === 'pair') startPairAttempt();
  say(out, `${doing}…`);
  const pushedBefore = pushedStatuses;
  const r = await api('POST', path, path === 'pair' ? {} : undefined);
  if (r.status === 200) {
    say(out, '');
    renderAnswer(r.body as unknown as Status, pushedBefore);
  } else say(out, messageOf(r, `${doing} failed`), 'error');
}

function startPairAttempt(): void {
  pairRequested = true;
  pairingGotThrough = false;
}

async function pairByCode(phone: string): Promise<void> {
  const out = $('action-result');
  say(out, 'Asking WhatsApp for a pairing code…');
  startPairAttempt();
  const pushedBefore = pushedStatuses;
  const r = await api('POST', 'pair', { phone });
  if (r.status !== 200) return say(out, messageOf(r, 'Pairing failed'), 'error');
  const answer = r.body as unknown as Status;
  // This answer waits for the code: one carrying it is newer than a push still waiting for it (but
  // not than a push that closed the attempt).
  const stillWaiting = newestPushed?.state === 'pairing' && !newestPushed.pairing_code;
  let s = answer;
  if (answer.pairing_code && stillWaiting) renderStatus(answer);
  else s = renderAnswer(answer, pushedBefore);
  if (s.pairing_code) say(out, 'Code ready: enter it on your phone.', 'ok');
  else if (isUnreachable(s)) say(out, 'No code: WhatsApp is unreachable (see above).', 'error');
  else say(out, 'Waiting for WhatsApp to send the code; it appears here when it arrives.');
}

async function sendTestMessage(): Promise<void> {
  const out = $('action-result');
  const r = await api('POST', 'test-message');
  if (r.status === 200) {
    say(out, 'Test message queued to your own number.', 'ok');
    void loadQueue();
  } else say(out, messageOf(r, 'Could not send the test message'), 'error');
}

// ---- linked users ----------------------------------------------------------------------------

async function loadUsers(): Promise<void> {
  const r = await api('GET', 'users');
  if (r.status !== 200) return;
  const users = (r.body.users as LinkedUser[] | undefined) ?? [];
  const rows = users.map((u) => {
    const tr = h('tr');
    const unlink = h('button', 'Unlink', 'small danger');
    unlink.setAttribute('type', 'button');
    unlink.setAttribute('aria-label', `Unlink ${u.username}`);
    unlink.addEventListener('click', () => void busy(unlink, () => unlinkUser(u.username)));
    const actions = h('td', undefined, 'actions');
    actions.append(unlink);
    tr.append(h('td', u.username), h('td', phoneOf(u.phone), 'mono'), h('td', ago(u.linkedAt)), actions);
    return tr;
  });
  tbody('users-table').replaceChildren(...rows);
  showTable('users', rows.length);
}

/** An empty table is replaced by its one-line "nothing here" note. */
function showTable(name: string, rows: number): void {
  $(`${name}-wrap`).hidden = rows === 0;
  $(`${name}-empty`).hidden = rows > 0;
}

function tbody(tableId: string): El {
  const table = $(tableId) as El & { tBodies: El[] };
  const body = table.tBodies[0];
  if (!body) throw new Error(`table #${tableId} has no tbody`);
  return body;
}

async function linkUser(username: string, phone: string): Promise<void> {
  const out = $('user-result');
  const r = await api('POST', 'users', { username, phone });
  if (r.status === 200) {
    say(out, `Linked ${username}.`, 'ok');
    $('user-form').reset();
    await loadUsers();
  } else say(out, messageOf(r, 'Could not link the user'), 'error');
}

async function unlinkUser(username: string): Promise<void> {
  if (!confirm(`Unlink the username "${username}"? Scripts sending to it will get an error.`)) return;
  const r = await api('DELETE', `users/${encodeURIComponent(username)}`);
  say($('user-result'), r.status === 200 ? `Unlinked ${username}.` : messageOf(r, 'Could not unlink'), r.status === 200 ? 'ok' : 'error');
  await loadUsers();
}

// ---- API keys --------------------------------------------------------------------------------

async function loadKeys(): Promise<void> {
  const r = await api('GET', 'keys');
  if (r.status !== 200) {
    if (r.status !== 401) say($('key-result'), messageOf(r, 'Could not list keys'), 'error');
    return;
  }
  const keys = ((r.body.keys as ApiKey[] | undefined) ?? []).filter((k) => !k.revokedAt);
  const rows = keys.map((k) => {
    const tr = h('tr');
    const revoke = h('button', 'Revoke', 'small danger');
    revoke.setAttribute('type', 'button');
    revoke.setAttribute('aria-label', `Revoke key ${k.name}`);
    revoke.addEventListener('click', () => void busy(revoke, () => revokeKey(k.name)));
    const actions = h('td', undefined, 'actions');
    actions.append(revoke);
    tr.append(h('td', k.name), h('td', ago(k.createdAt)), h('td', k.lastUsedAt ? ago(k.lastUsedAt) : 'never'), actions);
    return tr;
  });
  tbody('keys-table').replaceChildren(...rows);
  showTable('keys', rows.length);
}

async function createKey(name: string): Promise<void> {
  const out = $('key-result');
  const r = await api('POST', 'keys', { name });
  if (r.status === 200 && typeof r.body.key === 'string') {
    const value = $('new-key-value');
    value.value = r.body.key;
    $('new-key').hidden = false;
    say(out, `Created key "${name}".`, 'ok');
    $('key-form').reset();
    value.focus();
    value.select();
    await loadKeys();
  } else say(out, messageOf(r, 'Could not create the key'), 'error');
}

async function copyKey(): Promise<void> {
  const value = $('new-key-value');
  try {
    if (!navigator.clipboard) throw new Error('no clipboard API');
    await navigator.clipboard.writeText(value.value);
  } catch {
    value.select();
    document.execCommand('copy');
  }
  say($('key-result'), 'Copied to the clipboard.', 'ok');
}

async function revokeKey(name: string): Promise<void> {
  if (!confirm(`Revoke the key "${name}"? Scripts using it stop working.`)) return;
  const r = await api('DELETE', `keys/${encodeURIComponent(name)}`);
  say($('key-result'), r.status === 200 ? `Revoked "${name}".` : messageOf(r, 'Could not revoke'), r.status === 200 ? 'ok' : 'error');
  $('new-key').hidden = true;
  await loadKeys();
}

// ---- queue -----------------------------------------------------------------------------------

function queueRow(q: QueueRow): El {
  const tr = h('tr');
  const id = h('td', q.id.slice(-8), 'mono');
  id.setAttribute('title', q.id);
  const state = h('td', q.state, `state state-${q.state}`);
  if (q.error) state.append(h('div', q.error, 'muted small'));
  const actions = h('td', undefined, 'actions');
  if (q.state === 'failed' || q.state === 'expired') actions.append(queueButton('Retry', 'retry', q));
  if (q.state === 'queued' || q.state === 'sending') actions.append(queueButton('Cancel', 'cancel', q));
  tr.append(id, h('td', phoneOf(q.to), 'mono'), state, h('td', String(q.attempts)), h('td', ago(q.updated_at)), actions);
  return tr;
}

function queueButton(label: string, action: 'retry' | 'cancel', q: QueueRow): El {
  const b = h('button', label, action === 'cancel' ? 'small danger' : 'small');
  b.setAttribute('type', 'button');
  b.setAttribute('aria-label', `${label} notification ${q.id}`);
  b.addEventListener('click', () => void busy(b, () => queueAction(action, q.id)));
  return b;
}

async function queueAction(action: 'retry' | 'cancel', id: string): Promise<void> {
  if (action === 'cancel' && !confirm('Cancel this notification? Recipients not yet sent are marked failed.')) return;
  const r = await api('POST', `queue/${encodeURIComponent(id)}/${action}`);
  const out = $('queue-result');
  if (r.status === 200)
    say(
      out,
      action === 'retry'
        ? `Queued again (${String(r.body.retried)} recipient(s)).`
        : `Cancelled (${String(r.body.cancelled)} recipient(s)).`,
      'ok',
    );
  else say(out, messageOf(r, `Could not ${action}`), 'error');
  await loadQueue();
}

async function loadQueue(): Promise<void> {
  const r = await api('GET', 'queue');
  if (r.status !== 200) return;
  const q = r.body as unknown as QueueView;
  $('queue-summary').textContent =
    q.depth === 0 ? 'The queue is empty.' : `${q.depth} recipient(s) waiting · oldest ${duration(q.oldest_age_seconds)}`;
  const waiting = q.recipients.map(queueRow);
  tbody('queue-table').replaceChildren(...waiting);
  showTable('queue', waiting.length);
  // Waiting rows are listed above already; this list is what is done (sent, failed, expired…).
  const recent = (q.recent ?? []).filter((r) => r.state !== 'queued' && r.state !== 'sending').map(queueRow);
  tbody('recent-table').replaceChildren(...recent);
  showTable('recent', recent.length);
}

// ---- wiring ----------------------------------------------------------------------------------

const form = (id: string, submit: (button: El) => Promise<void>) => {
  const f = $(id);
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const button = (f as El & { querySelector(sel: string): El | null }).querySelector('button[type=submit]') ?? f;
    void busy(button, () => submit(button));
  });
};
const click = (id: string, action: () => Promise<void>) => {
  const b = $(id);
  b.addEventListener('click', () => void busy(b, action));
};

function start(): void {
  form('signin-form', () => signIn($('signin-password').value));
  click('sign-out', signOut);
  click('pair-qr', () => control('pair', 'Starting pairing'));
  form('pair-code-form', () => pairByCode($('pair-phone').value));
  click('connect', () => control('connect', 'Connecting'));
  click('disconnect', () => control('disconnect', 'Pausing'));
  click('unlink', async () => {
    if (confirm('Unlink WhatsApp? This logs the service out of your phone; you will have to pair again.'))
      await control('unlink', 'Unlinking');
  });
  click('test-message', sendTestMessage);
  form('user-form', () => linkUser($('user-name').value.trim(), $('user-phone').value.trim()));
  form('key-form', () => createKey($('key-name').value.trim()));
  click('copy-key', copyKey);
  click('queue-refresh', loadQueue);
  void checkSession().catch((error: unknown) => showPageError(`Could not reach the sidecar: ${(error as Error).message}`));
}

start();
