/**
 * The admin page's markup. Static: everything live is filled in by page.ts over the JSON API, so
 * the HTML carries no secrets or state and a strict Content-Security-Policy (no inline script or
 * style) holds.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>wa-notify · WhatsApp</title>
<link rel="stylesheet" href="/whatsapp/assets/page.css">
<script type="module" src="/whatsapp/assets/page.js"></script>
</head>
<body>
<header class="top">
  <h1>wa-notify <span class="sub">WhatsApp admin</span></h1>
  <button type="button" id="sign-out" class="quiet" hidden>Sign out</button>
</header>
<main>
  <noscript><p class="notice">This page needs JavaScript.</p></noscript>
  <p id="page-error" class="notice error" role="alert" hidden></p>

  <section id="signin-view" class="card narrow" aria-labelledby="signin-title" hidden>
    <h2 id="signin-title">Sign in</h2>
    <form id="signin-form">
      <label for="signin-password">Admin password</label>
      <input id="signin-password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit" class="primary">Sign in</button>
      <p id="signin-error" class="form-error" role="alert"></p>
    </form>
    <p id="signin-help" class="muted small">The password is the sidecar's <code>WHATSAPP_ADMIN_PASSWORD</code>.
      Started with <code>npm start</code>? It generated one: <code>WHATSAPP_ADMIN_PASSWORD</code> in
      <code>.data/dev-secrets.json</code> in the project folder.</p>
  </section>

  <div id="app-view" hidden>
    <section class="card" aria-labelledby="wa-title">
      <h2 id="wa-title">WhatsApp connection</h2>
      <div id="status-box" class="status" role="status" aria-live="polite" aria-atomic="true">
        <p><span id="state-badge" class="badge" data-state="">…</span> <span id="state-text"></span></p>
        <p id="last-disconnect" class="muted" hidden></p>
      </div>

      <div id="pairing" hidden>
        <div id="qr-box" class="qr-box" hidden>
          <img id="qr-img" alt="QR code: scan it in WhatsApp, Settings, Linked devices, Link a device" width="264" height="264">
          <p class="muted">On the phone: WhatsApp → Settings → Linked devices → Link a device, then scan. The code refreshes by itself.</p>
        </div>
        <div id="code-box" class="code-box" hidden>
          <p>On the phone: WhatsApp → Linked devices → Link a device → <em>Link with phone number instead</em>, and enter:</p>
          <p id="pairing-code" class="pairing-code" aria-label="Pairing code"></p>
        </div>
        <div class="pair-actions">
          <button type="button" id="pair-qr" class="primary">Pair with a QR code</button>
          <form id="pair-code-form" class="inline-form">
            <label for="pair-phone">…or link by phone number (with country code)</label>
            <div class="row">
              <input id="pair-phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" placeholder="+91 98765 43210" required>
              <button type="submit">Get pairing code</button>
            </div>
          </form>
        </div>
      </div>

      <div id="controls-box">
        <div class="controls" role="group" aria-label="Connection controls">
          <button type="button" id="connect">Connect</button>
          <button type="button" id="disconnect">Pause</button>
          <button type="button" id="test-message">Send test message to self</button>
          <button type="button" id="unlink" class="danger">Unlink…</button>
        </div>
        <p class="muted small">Pause keeps the session; notifications wait in the queue. Unlink logs this device out of WhatsApp.</p>
      </div>
      <p id="action-result" class="result" role="status" aria-live="polite"></p>
    </section>

    <section class="card" aria-labelledby="users-title">
      <h2 id="users-title">Linked users</h2>
      <p class="muted small">A username lets scripts send with <code>"username"</code> instead of a phone number.</p>
      <form id="user-form" class="grid-form">
        <div>
          <label for="user-name">Username</label>
          <input id="user-name" name="username" maxlength="64" autocomplete="off" required>
        </div>
        <div>
          <label for="user-phone">Phone (with country code)</label>
          <input id="user-phone" name="phone" type="tel" inputmode="tel" autocomplete="off" required>
        </div>
        <button type="submit">Link user</button>
      </form>
      <p id="user-result" class="result" role="status" aria-live="polite"></p>
      <div class="table-wrap" id="users-wrap">
        <table id="users-table">
          <caption class="visually-hidden">Linked users</caption>
          <thead><tr><th scope="col">Username</th><th scope="col">Phone</th><th scope="col">Linked</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="users-empty" class="muted" hidden>No linked users yet.</p>
    </section>

    <section class="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <form id="key-form" class="grid-form">
        <div>
          <label for="key-name">Name of the new key</label>
          <input id="key-name" name="name" maxlength="64" autocomplete="off" placeholder="e.g. strategy-box" required>
        </div>
        <button type="submit">Create key</button>
      </form>
      <div id="new-key" class="new-key" role="region" aria-labelledby="new-key-title" hidden>
        <p id="new-key-title"><strong>New key — copy it now, it is shown only once:</strong></p>
        <div class="row">
          <input id="new-key-value" readonly aria-label="New API key" spellcheck="false">
          <button type="button" id="copy-key">Copy</button>
        </div>
      </div>
      <p id="key-result" class="result" role="status" aria-live="polite"></p>
      <div class="table-wrap" id="keys-wrap">
        <table id="keys-table">
          <caption class="visually-hidden">API keys</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="keys-empty" class="muted" hidden>No API keys.</p>
    </section>

    <section class="card" aria-labelledby="queue-title">
      <h2 id="queue-title">Queue</h2>
      <div class="row between">
        <p id="queue-summary" aria-live="polite">…</p>
        <button type="button" id="queue-refresh" class="quiet">Refresh</button>
      </div>
      <p id="queue-result" class="result" role="status" aria-live="polite"></p>
      <h3>Waiting to be sent</h3>
      <div class="table-wrap" id="queue-wrap">
        <table id="queue-table">
          <caption class="visually-hidden">Recipients waiting to be sent</caption>
          <thead><tr><th scope="col">Notification</th><th scope="col">To</th><th scope="col">State</th><th scope="col">Tries</th><th scope="col">Updated</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="queue-empty" class="muted" hidden>Nothing waiting.</p>
      <h3>Finished in the last 24 hours</h3>
      <div class="table-wrap" id="recent-wrap">
        <table id="recent-table">
          <caption class="visually-hidden">Recently finished notifications</caption>
          <thead><tr><th scope="col">Notification</th><th scope="col">To</th><th scope="col">State</th><th scope="col">Tries</th><th scope="col">Updated</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p id="recent-empty" class="muted" hidden>Nothing finished in the last 24 hours.</p>
    </section>
  </div>
</main>
</body>
</html>
`;
