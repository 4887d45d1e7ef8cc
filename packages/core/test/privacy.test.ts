import { describe, expect, it } from 'vitest';
import {
  MemoryAttachmentStore,
  MemoryBridge,
  MemoryStorage,
  PocketPing,
  ProtocolHttpHandler,
  silentLogger,
} from '../src/index.js';

async function setup(extra: Record<string, unknown> = {}) {
  const store = new MemoryAttachmentStore();
  const bridge = new MemoryBridge();
  const erased: string[] = [];
  (bridge as unknown as { onSessionErased: (s: { id: string }) => void }).onSessionErased = (s) => {
    erased.push(s.id);
  };
  const storage = new MemoryStorage();
  const pp = new PocketPing({
    logger: silentLogger,
    storage,
    bridges: [bridge],
    attachmentStore: store,
    publicUrl: 'http://127.0.0.1:1/pp',
    ...extra,
  });
  await pp.init();
  return { pp, store, bridge, erased, storage };
}

async function sessionWithFile(pp: PocketPing, visitorId: string) {
  const c = await pp.handleConnect({ visitorId, sessionId: null });
  const up = await pp.handleUploadRequest({
    sessionId: c.sessionId,
    filename: 'a.txt',
    mimeType: 'text/plain',
    size: 2,
  });
  await pp.handleUploadData(up.attachmentId, new TextEncoder().encode('hi'));
  await pp.handleUploadComplete({ sessionId: c.sessionId, attachmentId: up.attachmentId });
  await pp.handleMessage({ sessionId: c.sessionId, content: 'with a file', attachmentIds: [up.attachmentId] });
  await pp.flushDeliveries();
  return { sessionId: c.sessionId, attachmentId: up.attachmentId };
}

describe('privacy and retention', () => {
  it('erasing a session removes its messages, files and thread', async () => {
    const { pp, store, erased, storage } = await setup();
    const { sessionId, attachmentId } = await sessionWithFile(pp, 'v1');
    const key = `${sessionId}/${attachmentId}`;
    expect(await store.stat(key)).not.toBeNull();
    expect(await pp.eraseSession(sessionId)).toBe(true);
    expect(await storage.getSession(sessionId)).toBeNull();
    expect(await storage.getMessages(sessionId)).toEqual([]);
    expect(await store.stat(key)).toBeNull();
    expect(erased).toEqual([sessionId]);
    expect(await pp.eraseSession(sessionId)).toBe(false);
    await pp.close();
  });

  it('retention deletes only sessions inactive since before the cutoff', async () => {
    const { pp, storage } = await setup();
    const old = await sessionWithFile(pp, 'old');
    const fresh = await sessionWithFile(pp, 'fresh');
    await storage.updateSession(old.sessionId, { lastActivity: new Date(Date.now() - 100 * 86_400_000) });
    expect(await pp.runRetention(new Date(Date.now() - 90 * 86_400_000))).toBe(1);
    expect(await storage.getSession(old.sessionId)).toBeNull();
    expect(await storage.getSession(fresh.sessionId)).not.toBeNull();
    await pp.close();
  });

  it('the admin API exports and erases one visitor', async () => {
    const { pp } = await setup();
    const a = await sessionWithFile(pp, 'visitor-x');
    await pp.handleConnect({ visitorId: 'someone-else', sessionId: null });
    const http = new ProtocolHttpHandler(pp, { apiKey: 'privacy-admin-key-0123456789' });
    const headers = { authorization: 'Bearer privacy-admin-key-0123456789' };
    const exported = await http.handle({
      method: 'GET',
      path: '/admin/visitors/visitor-x/export',
      query: {},
      headers,
      baseUrl: 'http://x',
    });
    expect(exported.status).toBe(200);
    const body = (exported as { body: { sessions: { session: { id: string }; messages: { content: string }[] }[] } })
      .body;
    expect(body.sessions.map((s) => s.session.id)).toEqual([a.sessionId]);
    expect(body.sessions[0]!.messages.map((m) => m.content)).toEqual(['with a file']);
    const del = await http.handle({
      method: 'DELETE',
      path: '/admin/visitors/visitor-x',
      query: {},
      headers,
      baseUrl: 'http://x',
    });
    expect((del as { body: unknown }).body).toEqual({ visitorId: 'visitor-x', erased: 1 });
    expect(await pp.getSession(a.sessionId)).toBeNull();
    expect((await pp.getSessions()).length).toBe(1);
    await pp.close();
  });

  it('retention on a storage that cannot delete fails at start with a guide', async () => {
    const base = new MemoryStorage();
    const minimal = {
      createSession: base.createSession.bind(base),
      getSession: base.getSession.bind(base),
      saveMessage: base.saveMessage.bind(base),
      getMessages: base.getMessages.bind(base),
    };
    const pp = new PocketPing({ logger: silentLogger, storage: minimal, retentionDays: 30 });
    const err = await pp.init().catch((e) => e);
    expect(err?.formattedGuide?.()).toMatch(/retentionDays/);
    await pp.close();
  });
});
