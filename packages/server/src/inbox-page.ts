// The operator inbox served at `/inbox` by pocketping-server: lists sessions, shows a
// conversation, replies, and closes sessions through the admin API. Dependency-free, so the
// demo works with no build step and no messaging app.

/** HTML of the operator inbox for an endpoint prefix such as `/pocketping`. */
export function inboxPageHtml(prefix: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PocketPing inbox</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1f2937; }
  body { margin: 0; display: grid; grid-template-columns: 300px 1fr; height: 100vh; }
  aside { border-right: 1px solid #e5e7eb; overflow-y: auto; background: #f9fafb; }
  aside h1 { font-size: 16px; margin: 0; padding: 14px; border-bottom: 1px solid #e5e7eb; }
  .session { padding: 10px 14px; border-bottom: 1px solid #eee; cursor: pointer; }
  .session.active { background: #e0e7ff; }
  .session small { display: block; color: #6b7280; }
  section { display: flex; flex-direction: column; min-width: 0; }
  #header { padding: 12px 16px; border-bottom: 1px solid #e5e7eb; display: flex; justify-content: space-between; align-items: center; gap: 8px; }
  #thread { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 8px; }
  .msg { max-width: 75%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word; }
  .msg.visitor { align-self: flex-start; background: #e5e7eb; }
  .msg.operator, .msg.ai { align-self: flex-end; background: #4f46e5; color: #fff; }
  .msg.deleted { font-style: italic; opacity: .6; }
  .msg small { display: block; font-size: 11px; opacity: .75; margin-top: 3px; }
  form { display: flex; gap: 8px; padding: 12px; border-top: 1px solid #e5e7eb; }
  input { flex: 1; padding: 10px; border: 1px solid #d1d5db; border-radius: 8px; font-size: 15px; }
  button { padding: 8px 14px; border: none; border-radius: 8px; background: #4f46e5; color: #fff; cursor: pointer; }
  button.secondary { background: #e5e7eb; color: #111827; }
  #login { padding: 24px; }
  #error { color: #b91c1c; padding: 0 16px; }
</style>
</head>
<body>
<aside><h1>Conversations</h1><div id="sessions" data-testid="sessions"></div></aside>
<section>
  <div id="login" hidden>
    <p>Paste the admin API key printed when the server started (or set in <code>server.apiKey</code>).</p>
    <form id="loginForm"><input id="key" data-testid="api-key" placeholder="API key"><button>Open inbox</button></form>
  </div>
  <div id="header"><strong id="title" data-testid="title">Pick a conversation</strong><span><button class="secondary" id="close" data-testid="close-session" hidden>Close conversation</button></span></div>
  <div id="error" data-testid="error"></div>
  <div id="thread" data-testid="thread"></div>
  <form id="reply"><input id="replyInput" data-testid="reply-input" placeholder="Reply…" autocomplete="off" disabled><button id="replySend" data-testid="reply-send" disabled>Send</button></form>
</section>
<script>
(() => {
  const endpoint = location.origin + ${JSON.stringify(prefix === '/' ? '' : prefix)};
  const $ = (id) => document.getElementById(id);
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('key');
  if (fromHash) { localStorage.setItem('pp_admin_key', fromHash); history.replaceState(null, '', location.pathname); }
  let key = localStorage.getItem('pp_admin_key') || '';
  let current = null;

  async function api(method, path, body) {
    const res = await fetch(endpoint + '/admin' + path, { method, headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + key }, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) { $('login').hidden = false; throw new Error(data.message || 'unauthorized'); }
    if (!res.ok) throw new Error(data.message || res.status);
    return data;
  }

  function label(s) {
    const id = s.identity || {};
    return id.name || id.email || (s.preChat && (s.preChat.email || s.preChat.phone)) || ('Visitor ' + s.visitorId.slice(-6));
  }

  async function loadSessions() {
    const { sessions } = await api('GET', '/sessions?limit=100');
    const box = $('sessions');
    box.textContent = '';
    for (const s of sessions) {
      const el = document.createElement('div');
      el.className = 'session' + (current === s.id ? ' active' : '');
      el.dataset.testid = 'session';
      el.dataset.id = s.id;
      el.textContent = label(s);
      const small = document.createElement('small');
      small.textContent = (s.status === 'closed' ? 'closed · ' : '') + new Date(s.lastActivity).toLocaleString() + (s.metadata && s.metadata.url ? ' · ' + s.metadata.url : '');
      el.appendChild(small);
      el.onclick = () => { current = s.id; $('title').textContent = label(s); $('close').hidden = false; $('replyInput').disabled = false; $('replySend').disabled = false; loadThread(); loadSessions(); };
      box.appendChild(el);
    }
  }

  async function loadThread() {
    if (!current) return;
    const { messages } = await api('GET', '/sessions/' + current + '/messages?limit=500');
    const box = $('thread');
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    box.textContent = '';
    for (const m of messages) {
      const el = document.createElement('div');
      el.className = 'msg ' + m.sender + (m.deletedAt ? ' deleted' : '');
      el.dataset.testid = 'thread-message';
      el.dataset.sender = m.sender;
      el.textContent = m.deletedAt ? 'Message deleted' : m.content;
      const small = document.createElement('small');
      small.textContent = (m.sender === 'visitor' ? 'Visitor' : (m.operatorName || 'Operator')) + ' · ' + new Date(m.timestamp).toLocaleTimeString() + (m.editedAt && !m.deletedAt ? ' · edited' : '');
      el.appendChild(small);
      box.appendChild(el);
    }
    if (atBottom) box.scrollTop = box.scrollHeight;
    const unread = messages.some((m) => m.sender === 'visitor' && m.status !== 'read' && !m.deletedAt);
    if (unread && !document.hidden) api('POST', '/sessions/' + current + '/read', {}).catch(() => {});
  }

  async function tick() {
    try { await loadSessions(); await loadThread(); $('error').textContent = ''; }
    catch (err) { $('error').textContent = err.message; }
    finally { setTimeout(tick, 1500); }
  }

  $('loginForm').addEventListener('submit', (e) => { e.preventDefault(); key = $('key').value.trim(); localStorage.setItem('pp_admin_key', key); $('login').hidden = true; });
  $('reply').addEventListener('submit', async (e) => {
    e.preventDefault();
    const content = $('replyInput').value;
    if (!content.trim() || !current) return;
    $('replyInput').value = '';
    try { await api('POST', '/sessions/' + current + '/messages', { content, operatorName: 'Inbox' }); await loadThread(); }
    catch (err) { $('error').textContent = err.message; }
  });
  $('replyInput').addEventListener('input', () => { if (current) api('POST', '/sessions/' + current + '/typing', { isTyping: true }).catch(() => {}); });
  $('close').addEventListener('click', async () => { if (current) { await api('POST', '/sessions/' + current + '/close', {}); await loadSessions(); } });
  if (!key) $('login').hidden = false;
  tick();
})();
</script>
</body>
</html>`;
}
