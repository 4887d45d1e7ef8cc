// The demo chat page served at `/` by pocketping-server: a small, dependency-free client of the
// same widget protocol (connect, send, edit, delete, read, typing; WebSocket with a polling
// fallback). It exists so a newcomer can chat both ways within a minute, without the widget.

/** HTML of the demo chat page for an endpoint prefix such as `/pocketping`. */
export function demoPageHtml(prefix: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PocketPing demo</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1f2937; }
  body { margin: 0; background: #f3f4f6; display: flex; justify-content: center; }
  main { width: min(520px, 100%); min-height: 100vh; background: #fff; display: flex; flex-direction: column; box-shadow: 0 0 12px #0001; }
  header { padding: 14px 18px; background: #4f46e5; color: #fff; }
  header h1 { margin: 0; font-size: 18px; }
  header p { margin: 4px 0 0; font-size: 13px; opacity: .85; }
  #messages { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 8px; }
  .msg { max-width: 78%; padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; word-wrap: break-word; position: relative; }
  .msg.visitor { align-self: flex-end; background: #4f46e5; color: #fff; }
  .msg.operator, .msg.ai, .msg.welcome { align-self: flex-start; background: #e5e7eb; }
  .msg .meta { font-size: 11px; opacity: .75; margin-top: 4px; display: flex; gap: 8px; }
  .msg.deleted .text { font-style: italic; opacity: .7; }
  .msg button { font-size: 11px; background: none; border: none; color: inherit; text-decoration: underline; cursor: pointer; padding: 0; }
  #typing { font-size: 12px; color: #6b7280; padding: 0 16px 6px; min-height: 16px; }
  form { display: flex; gap: 8px; padding: 12px; border-top: 1px solid #e5e7eb; }
  form input { flex: 1; padding: 10px; border: 1px solid #d1d5db; border-radius: 10px; font-size: 15px; }
  form button { padding: 10px 16px; border: none; border-radius: 10px; background: #4f46e5; color: #fff; font-size: 15px; }
  footer { font-size: 12px; color: #6b7280; padding: 0 12px 12px; }
</style>
</head>
<body>
<main>
  <header><h1>Chat with us</h1><p id="status">Connecting…</p></header>
  <div id="messages" data-testid="messages"></div>
  <div id="typing" data-testid="typing"></div>
  <form id="composer"><input id="input" data-testid="input" autocomplete="off" placeholder="Type a message…" disabled><button id="send" data-testid="send" disabled>Send</button></form>
  <footer>This page is a demo client of the PocketPing protocol. Operators answer from <a href="/inbox" target="_blank">/inbox</a> or from Telegram, Discord and Slack.</footer>
</main>
<script>
(() => {
  const endpoint = location.origin + ${JSON.stringify(prefix === '/' ? '' : prefix)};
  const $ = (id) => document.getElementById(id);
  const list = $('messages');
  const messages = new Map();
  let sessionId = localStorage.getItem('pp_demo_session');
  let visitorId = localStorage.getItem('pp_demo_visitor');
  if (!visitorId) { visitorId = Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 11); localStorage.setItem('pp_demo_visitor', visitorId); }
  let welcome = '';
  let typingTimer = 0;
  let lastTyping = 0;
  let readScheduled = false;

  async function api(method, path, body) {
    const res = await fetch(endpoint + path, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data && data.message) || res.status);
    return data;
  }

  function upsert(m) {
    const prev = messages.get(m.id);
    messages.set(m.id, prev ? Object.assign(prev, m) : m);
  }

  function render() {
    list.textContent = '';
    const sorted = [...messages.values()].sort((a, b) => new Date(a.timestamp) - new Date(b.timestamp));
    if (sorted.length === 0 && welcome) {
      const w = document.createElement('div');
      w.className = 'msg welcome';
      w.textContent = welcome;
      list.appendChild(w);
    }
    for (const m of sorted) {
      const el = document.createElement('div');
      el.className = 'msg ' + m.sender + (m.deletedAt ? ' deleted' : '');
      el.dataset.testid = 'message';
      el.dataset.sender = m.sender;
      el.dataset.id = m.id;
      const text = document.createElement('div');
      text.className = 'text';
      text.textContent = m.deletedAt ? 'Message deleted' : m.content;
      el.appendChild(text);
      for (const a of (m.deletedAt ? [] : m.attachments || [])) {
        const link = document.createElement('a');
        link.href = a.url; link.textContent = '📎 ' + a.filename; link.target = '_blank';
        el.appendChild(link);
      }
      const meta = document.createElement('div');
      meta.className = 'meta';
      const who = m.sender === 'visitor' ? 'You' : (m.operatorName || (m.sender === 'ai' ? 'AI' : 'Support'));
      const time = new Date(m.timestamp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      const label = document.createElement('span');
      label.textContent = who + ' · ' + time + (m.editedAt && !m.deletedAt ? ' · edited' : '') + (m.sender === 'visitor' && m.status ? ' · ' + m.status : '');
      label.dataset.testid = 'meta';
      meta.appendChild(label);
      if (m.sender === 'visitor' && !m.deletedAt && !m.id.startsWith('temp-')) {
        const edit = document.createElement('button');
        edit.type = 'button'; edit.textContent = 'Edit'; edit.dataset.testid = 'edit';
        edit.onclick = () => editMessage(m);
        const del = document.createElement('button');
        del.type = 'button'; del.textContent = 'Delete'; del.dataset.testid = 'delete';
        del.onclick = () => deleteMessage(m);
        meta.append(edit, del);
      }
      el.appendChild(meta);
      list.appendChild(el);
    }
    list.scrollTop = list.scrollHeight;
    scheduleRead();
  }

  function scheduleRead() {
    if (readScheduled || document.hidden) return;
    const unread = [...messages.values()].filter((m) => m.sender !== 'visitor' && m.status !== 'read').map((m) => m.id);
    if (unread.length === 0) return;
    readScheduled = true;
    setTimeout(async () => {
      readScheduled = false;
      try { await api('POST', '/read', { sessionId, messageIds: unread, status: 'read' }); for (const id of unread) { const m = messages.get(id); if (m) m.status = 'read'; } } catch {}
    }, 1000);
  }

  async function editMessage(m) {
    const content = prompt('Edit your message', m.content);
    if (content === null || !content.trim()) return;
    const res = await api('PATCH', '/message/' + m.id, { sessionId, content: content.trim() });
    upsert({ id: m.id, content: res.message.content, editedAt: res.message.editedAt });
    render();
  }

  async function deleteMessage(m) {
    const res = await api('DELETE', '/message/' + m.id + '?sessionId=' + encodeURIComponent(sessionId));
    if (res.deleted) { upsert({ id: m.id, deletedAt: new Date().toISOString(), content: '' }); render(); }
  }

  function onEvent(env) {
    const d = env.data || {};
    if (env.type === 'message') { upsert(d); if (d.sender !== 'visitor') $('typing').textContent = ''; render(); }
    else if (env.type === 'message_edited') { const m = messages.get(d.messageId); if (m) { m.content = d.content; m.editedAt = d.editedAt || new Date().toISOString(); render(); } }
    else if (env.type === 'message_deleted') { const m = messages.get(d.messageId); if (m) { m.deletedAt = d.deletedAt || new Date().toISOString(); render(); } }
    else if (env.type === 'read') { for (const id of d.messageIds || []) { const m = messages.get(id); if (m) { m.status = d.status; if (d.readAt) m.readAt = d.readAt; } } render(); }
    else if (env.type === 'typing' && d.sender !== 'visitor') { $('typing').textContent = d.isTyping ? 'Support is typing…' : ''; }
    else if (env.type === 'presence') { $('status').textContent = d.online ? 'Active now' : 'We reply in a few minutes'; }
  }

  function cursor() {
    let max = 0;
    for (const m of messages.values()) for (const k of ['timestamp', 'editedAt', 'deletedAt', 'deliveredAt', 'readAt']) if (m[k]) max = Math.max(max, Date.parse(m[k]));
    return max ? new Date(max).toISOString() : '';
  }

  function poll() {
    const after = cursor();
    api('GET', '/messages?sessionId=' + encodeURIComponent(sessionId) + (after ? '&after=' + encodeURIComponent(after) : ''))
      .then((r) => { for (const m of r.messages) upsert(m); render(); })
      .catch(() => {})
      .finally(() => setTimeout(poll, 2000));
  }

  function openSocket(attempt) {
    const ws = new WebSocket(endpoint.replace(/^http/, 'ws') + '/stream?sessionId=' + sessionId);
    let opened = false;
    ws.onopen = () => { opened = true; attempt = 0; document.body.dataset.realtime = 'websocket'; };
    ws.onmessage = (e) => { try { onEvent(JSON.parse(e.data)); } catch {} };
    ws.onclose = () => {
      if (!opened && attempt >= 2) { document.body.dataset.realtime = 'polling'; poll(); return; }
      setTimeout(() => openSocket(attempt + 1), Math.min(16000, 1000 * 2 ** attempt));
    };
  }

  async function start() {
    const res = await api('POST', '/connect', {
      visitorId, sessionId,
      metadata: { url: location.href, referrer: document.referrer || undefined, pageTitle: document.title, userAgent: navigator.userAgent, timezone: Intl.DateTimeFormat().resolvedOptions().timeZone, language: navigator.language, screenResolution: screen.width + 'x' + screen.height },
    });
    sessionId = res.sessionId;
    localStorage.setItem('pp_demo_session', sessionId);
    welcome = res.welcomeMessage || '';
    $('status').textContent = res.operatorOnline ? 'Active now' : 'We reply in a few minutes';
    for (const m of res.messages || []) upsert(m);
    render();
    $('input').disabled = false; $('send').disabled = false;
    document.body.dataset.ready = 'true';
    openSocket(0);
  }

  $('input').addEventListener('input', () => {
    const now = Date.now();
    if (now - lastTyping > 1000) { lastTyping = now; api('POST', '/typing', { sessionId, sender: 'visitor', isTyping: true }).catch(() => {}); }
  });

  $('composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const content = $('input').value;
    if (!content.trim()) return;
    $('input').value = '';
    const temp = { id: 'temp-' + Date.now(), content, sender: 'visitor', timestamp: new Date().toISOString(), status: 'sending' };
    upsert(temp); render();
    try {
      const res = await api('POST', '/message', { sessionId, content, sender: 'visitor', attachmentIds: [] });
      messages.delete(temp.id);
      const echoed = messages.get(res.messageId);
      upsert({ ...(echoed || temp), id: res.messageId, timestamp: res.timestamp, status: (echoed && echoed.status) || 'sent' });
    } catch (err) {
      messages.delete(temp.id);
      alert('Message not sent: ' + err.message);
    }
    render();
  });

  start().catch((err) => { $('status').textContent = 'Could not connect: ' + err.message; });
})();
</script>
</body>
</html>`;
}
