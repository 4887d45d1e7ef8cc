import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, JSON_HEADERS, ORIGIN, openWs, startServer, type TestServer } from './helpers.js';

let s: TestServer;
beforeEach(async () => {
  s = await startServer({ pp: { maxAttachmentSize: 1024 * 1024 } });
});
afterEach(async () => {
  await s.close();
});

async function postJson(path: string, body: unknown) {
  const res = await fetch(`${s.base}${path}`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('uploads', () => {
  it('the three-step flow stores the file, and the message shows it', async () => {
    const sessionId = await connect(s);
    const ws = await openWs(s, sessionId);
    const bytes = Buffer.from('%PDF-1.4 fake pdf bytes');
    const start = await postJson('/upload', {
      sessionId,
      filename: 'invoice.pdf',
      mimeType: 'application/pdf',
      size: bytes.length,
    });
    expect(start.status).toBe(200);
    const uploadUrl = start.body.uploadUrl as string;
    expect(uploadUrl.startsWith(`${s.base}/upload/`)).toBe(true);
    expect(Date.parse(start.body.expiresAt as string)).toBeGreaterThan(Date.now());
    const put = await fetch(uploadUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/pdf', origin: ORIGIN },
      body: bytes,
    });
    expect(put.status).toBe(200);
    expect(put.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const done = await postJson('/upload/complete', { sessionId, attachmentId: start.body.attachmentId });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      id: start.body.attachmentId,
      filename: 'invoice.pdf',
      mimeType: 'application/pdf',
      size: bytes.length,
      status: 'ready',
    });
    const url = done.body.url as string;
    expect(url.startsWith('http://127.0.0.1:')).toBe(true);
    const file = await fetch(url);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(bytes)).toBe(true);
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    const sent = await postJson('/message', { sessionId, content: '', attachmentIds: [start.body.attachmentId] });
    expect(sent.status).toBe(200);
    expect(sent.body.attachments).toEqual([expect.objectContaining({ id: start.body.attachmentId, url })]);
    const echo = await ws.waitFor((f) => f.type === 'message' && f.data.id === sent.body.messageId);
    expect(echo.data.attachments).toEqual([
      expect.objectContaining({ filename: 'invoice.pdf', mimeType: 'application/pdf' }),
    ]);
    ws.close();
  });

  it('too large and disallowed types are refused with 413 and 415', async () => {
    const sessionId = await connect(s);
    const big = await postJson('/upload', {
      sessionId,
      filename: 'huge.zip',
      mimeType: 'application/zip',
      size: 50 * 1024 * 1024,
    });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('ATTACHMENT_TOO_LARGE');
    const exe = await postJson('/upload', {
      sessionId,
      filename: 'x.exe',
      mimeType: 'application/x-msdownload',
      size: 10,
    });
    expect(exe.status).toBe(415);
    expect(exe.body.error).toBe('ATTACHMENT_TYPE_NOT_ALLOWED');
    const zero = await postJson('/upload', { sessionId, filename: 'x.txt', mimeType: 'text/plain', size: 0 });
    expect(zero.status).toBe(400);
  });

  it('an upload URL takes bytes once and never more than announced', async () => {
    const sessionId = await connect(s);
    const start = await postJson('/upload', { sessionId, filename: 'a.txt', mimeType: 'text/plain', size: 5 });
    const over = await fetch(start.body.uploadUrl as string, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'more than five',
    });
    expect(over.status).toBe(413);
    const start2 = await postJson('/upload', { sessionId, filename: 'b.txt', mimeType: 'text/plain', size: 5 });
    const ok = await fetch(start2.body.uploadUrl as string, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(ok.status).toBe(200);
    const again = await fetch(start2.body.uploadUrl as string, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(again.status).toBe(410);
    expect(((await again.json()) as { error: string }).error).toBe('ATTACHMENT_UPLOAD_EXPIRED');
  });

  it('completing before the bytes arrive, or from another session, is refused', async () => {
    const a = await connect(s);
    const b = await connect(s);
    const start = await postJson('/upload', { sessionId: a, filename: 'a.png', mimeType: 'image/png', size: 4 });
    const early = await postJson('/upload/complete', { sessionId: a, attachmentId: start.body.attachmentId });
    expect(early.status).toBe(409);
    expect(early.body.error).toBe('ATTACHMENT_NOT_READY');
    await fetch(start.body.uploadUrl as string, {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body: Buffer.from([137, 80, 78, 71]),
    });
    const other = await postJson('/upload/complete', { sessionId: b, attachmentId: start.body.attachmentId });
    expect(other.status).toBe(404);
    const ok = await postJson('/upload/complete', { sessionId: a, attachmentId: start.body.attachmentId });
    expect(ok.status).toBe(200);
    const steal = await postJson('/message', {
      sessionId: b,
      content: 'mine now',
      attachmentIds: [start.body.attachmentId],
    });
    expect(steal.status).toBe(404);
  });

  it('SVG files are always downloaded, never rendered in the server origin', async () => {
    const sessionId = await connect(s);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
    const start = await postJson('/upload', {
      sessionId,
      filename: 'x.svg',
      mimeType: 'image/svg+xml',
      size: svg.length,
    });
    await fetch(start.body.uploadUrl as string, {
      method: 'PUT',
      headers: { 'content-type': 'image/svg+xml' },
      body: svg,
    });
    const done = await postJson('/upload/complete', { sessionId, attachmentId: start.body.attachmentId });
    const file = await fetch(done.body.url as string);
    expect(file.headers.get('content-type')).toBe('application/octet-stream');
    expect(file.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(file.headers.get('content-security-policy')).toContain('sandbox');
  });

  it('screenshot requests are handed out once and the upload becomes a chat message', async () => {
    const sessionId = await connect(s);
    const req = await s.pp.requestScreenshot(sessionId, { requestedBy: 'Ana' });
    const first = await fetch(`${s.base}/screenshot/requests?sessionId=${sessionId}`, { headers: JSON_HEADERS });
    expect(((await first.json()) as { requests: unknown[] }).requests).toEqual([
      { requestId: req.requestId, requestedBy: 'Ana' },
    ]);
    const second = await fetch(`${s.base}/screenshot/requests?sessionId=${sessionId}`, { headers: JSON_HEADERS });
    expect(((await second.json()) as { requests: unknown[] }).requests).toEqual([]);
    const up = await postJson('/screenshot/upload', { sessionId, requestId: req.requestId });
    expect(up.status).toBe(200);
    const png = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
    const put = await fetch(up.body.uploadUrl as string, {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body: png,
    });
    expect(put.status).toBe(200);
    const done = await postJson('/screenshot/upload/complete', {
      sessionId,
      requestId: req.requestId,
      attachmentId: up.body.attachmentId,
      size: png.length,
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ success: true, attachmentId: up.body.attachmentId });
    const [m] = await s.pp.getMessages(sessionId);
    expect(m!.id).toBe(done.body.messageId);
    expect(m!.attachments?.[0]?.mimeType).toBe('image/png');
  });
});
