import { describe, expect, it } from 'vitest';
import { CTX, connect, expectNoNulls, harness, sendVisitor, visitorId, WIDGET_METADATA } from './helpers.js';

describe('POST /connect', () => {
  it('first visit with sessionId null creates a session with an unguessable URL-safe id', async () => {
    const { pp, storage } = await harness();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await connect(pp, { sessionId: null })).sessionId);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(await storage.getSession(id)).not.toBeNull();
    }
    expect(new Set(ids).size).toBe(ids.length);
    // Whatever fixed prefix the ids share, the part that varies carries at least 128 bits.
    let prefix = ids[0]!;
    for (const id of ids) while (!id.startsWith(prefix)) prefix = prefix.slice(0, -1);
    for (const id of ids) expect((id.length - prefix.length) * 6).toBeGreaterThanOrEqual(128);
  });

  it('echoes the visitorId and answers every field the widget reads', async () => {
    const { pp } = await harness({ operatorOnline: true, operatorReachable: false });
    const vid = visitorId();
    const res = await connect(pp, { visitorId: vid });
    expect(res.visitorId).toBe(vid);
    expect(res.operatorOnline).toBe(true);
    expect(res.operatorReachable).toBe(false);
    expect(res.messages).toEqual([]);
  });

  it('operatorReachable defaults to true and operatorOnline to false', async () => {
    const { pp } = await harness();
    const res = await connect(pp);
    expect(res.operatorOnline).toBe(false);
    expect(res.operatorReachable).toBe(true);
  });

  it('resumes the session by sessionId for the same visitor, with its history', async () => {
    const { pp } = await harness();
    const vid = visitorId();
    const first = await connect(pp, { visitorId: vid });
    await sendVisitor(pp, first.sessionId, 'hello');
    const again = await connect(pp, { visitorId: vid, sessionId: first.sessionId });
    expect(again.sessionId).toBe(first.sessionId);
    expect(again.messages.map((m) => m.content)).toEqual(['hello']);
  });

  it('does not resume a sessionId presented with another visitorId', async () => {
    const { pp } = await harness();
    const owner = await connect(pp);
    await sendVisitor(pp, owner.sessionId, 'private');
    const stranger = await connect(pp, { visitorId: visitorId(), sessionId: owner.sessionId });
    expect(stranger.sessionId).not.toBe(owner.sessionId);
    expect(stranger.messages).toEqual([]);
  });

  it("falls back to the visitor's newest session when the sessionId is unknown", async () => {
    const { pp, storage } = await harness();
    const vid = visitorId();
    const older = new Date(Date.now() - 3_600_000);
    const newer = new Date(Date.now() - 60_000);
    await storage.createSession({
      id: 'ses_old',
      visitorId: vid,
      createdAt: older,
      lastActivity: older,
      status: 'open',
      metadata: {},
    });
    await storage.createSession({
      id: 'ses_new',
      visitorId: vid,
      createdAt: newer,
      lastActivity: newer,
      status: 'open',
      metadata: {},
    });
    const res = await connect(pp, { visitorId: vid, sessionId: 'ses_missing' });
    expect(res.sessionId).toBe('ses_new');
    const noId = await connect(pp, { visitorId: vid, sessionId: null });
    expect(noId.sessionId).toBe('ses_new');
  });

  it('never fails for an unknown or malformed sessionId', async () => {
    const { pp } = await harness();
    for (const sessionId of ['ses_doesnotexist', 'temp-lx2abc-123456789', '../../etc/passwd', '', 'a b c']) {
      const res = await connect(pp, { sessionId });
      expect(res.sessionId).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(res.sessionId).not.toBe(sessionId);
    }
  });

  it('refreshes metadata on resume and keeps the server-side ip, country and city', async () => {
    const { pp, storage } = await harness();
    const vid = visitorId();
    const first = await connect(pp, { visitorId: vid }, { ...CTX, ip: '198.51.100.1' });
    // Geo is filled server-side (e.g. by a GeoIP lookup) after the first visit.
    await storage.updateSession(first.sessionId, {
      metadata: { ...(await storage.getSession(first.sessionId))!.metadata, country: 'FR', city: 'Lyon' },
    });
    await connect(
      pp,
      {
        visitorId: vid,
        sessionId: first.sessionId,
        // A client trying to overwrite what only the server may know.
        metadata: { ...WIDGET_METADATA, url: 'https://shop.example.com/checkout', ip: '6.6.6.6', country: 'XX' },
      },
      // The same visitor, now behind another network address.
      { ...CTX, ip: '203.0.113.99' },
    );
    const meta = (await storage.getSession(first.sessionId))!.metadata;
    expect(meta.url).toBe('https://shop.example.com/checkout');
    expect(meta.ip).toBe('198.51.100.1');
    expect(meta.country).toBe('FR');
    expect(meta.city).toBe('Lyon');
  });

  it('stores server-side facts on a new session: ip from the request and the parsed User-Agent', async () => {
    const { pp, storage } = await harness();
    const res = await connect(pp, {}, { ...CTX, ip: '192.0.2.44' });
    const meta = (await storage.getSession(res.sessionId))!.metadata;
    expect(meta.ip).toBe('192.0.2.44');
    expect(meta.browser).toBe('Chrome');
    expect(meta.os).toBe('macOS');
    expect(meta.deviceType).toBe('desktop');
    expect(meta.timezone).toBe('Europe/Paris');
  });

  it('stores the identity sent with connect and returns it', async () => {
    const { pp, storage } = await harness();
    const identity = { id: 'user-42', email: 'ana@example.com', name: 'Ana', plan: 'pro' };
    const res = await connect(pp, { identity });
    expect(res.identity).toEqual(identity);
    expect((await storage.getSession(res.sessionId))!.identity).toEqual(identity);
  });

  it('updates the identity when a resumed connect carries a new one', async () => {
    const { pp, storage } = await harness();
    const vid = visitorId();
    const first = await connect(pp, { visitorId: vid });
    const identity = { id: 'user-7', name: 'Bo' };
    const again = await connect(pp, { visitorId: vid, sessionId: first.sessionId, identity });
    expect(again.identity).toEqual(identity);
    expect((await storage.getSession(first.sessionId))!.identity).toEqual(identity);
  });

  it('returns the full history in ascending order', async () => {
    const { pp } = await harness();
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    await sendVisitor(pp, sessionId, 'one');
    await pp.sendMessage(sessionId, { content: 'two' });
    await sendVisitor(pp, sessionId, 'three');
    const res = await connect(pp, { visitorId: vid, sessionId });
    expect(res.messages.map((m) => m.content)).toEqual(['one', 'two', 'three']);
    const times = res.messages.map((m) => Date.parse(m.timestamp));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('with historyLimit returns the newest N messages, ascending, never the oldest N', async () => {
    const { pp } = await harness({ historyLimit: 3 });
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    for (let i = 1; i <= 7; i++) await sendVisitor(pp, sessionId, `m${i}`);
    const res = await connect(pp, { visitorId: vid, sessionId });
    expect(res.messages.map((m) => m.content)).toEqual(['m5', 'm6', 'm7']);
  });

  it('sends the welcome message without storing it as a message', async () => {
    const { pp, storage } = await harness({ welcomeMessage: 'Hi! How can we help?' });
    const vid = visitorId();
    const res = await connect(pp, { visitorId: vid });
    expect(res.welcomeMessage).toBe('Hi! How can we help?');
    expect(res.messages).toEqual([]);
    expect(await storage.getMessages(res.sessionId)).toEqual([]);
    const again = await connect(pp, { visitorId: vid, sessionId: res.sessionId });
    expect(again.messages).toEqual([]);
  });

  it('omits welcomeMessage when none is configured', async () => {
    const { pp } = await harness();
    expect(await connect(pp)).not.toHaveProperty('welcomeMessage');
  });

  it('sends branding keys only when they are set', async () => {
    const { pp } = await harness({
      branding: { operatorName: 'Ana', primaryColor: '#6d28d9', headerColor: { from: '#000', to: '#fff' } },
    });
    const res = await connect(pp);
    expect(res.operatorName).toBe('Ana');
    expect(res.primaryColor).toBe('#6d28d9');
    expect(res.headerColor).toEqual({ from: '#000', to: '#fff' });
    for (const key of ['operatorAvatar', 'toggleColor', 'footerColor', 'chatBackground']) {
      expect(res).not.toHaveProperty(key);
    }
  });

  it('sends no branding keys when branding is not configured', async () => {
    const { pp } = await harness();
    const res = await connect(pp);
    for (const key of [
      'operatorName',
      'operatorAvatar',
      'primaryColor',
      'headerColor',
      'toggleColor',
      'footerColor',
      'chatBackground',
    ]) {
      expect(res).not.toHaveProperty(key);
    }
  });

  it('sends preChatForm with all five fields, completed false before /prechat', async () => {
    const { pp } = await harness({ preChatForm: { enabled: true, fields: 'email-or-phone' } });
    const res = await connect(pp);
    expect(res.preChatForm).toEqual({
      enabled: true,
      required: false,
      timing: 'before-first-message',
      fields: 'email-or-phone',
      completed: false,
    });
  });

  it('reports preChatForm completed on the next connect after /prechat', async () => {
    const { pp } = await harness({ preChatForm: { enabled: true, required: true, timing: 'after-first-message' } });
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    await pp.handlePreChat({ sessionId, email: 'ana@example.com' });
    const res = await connect(pp, { visitorId: vid, sessionId });
    expect(res.preChatForm).toEqual({
      enabled: true,
      required: true,
      timing: 'after-first-message',
      fields: 'email-only',
      completed: true,
    });
  });

  it('leaves preChatForm out when the form is disabled', async () => {
    const { pp } = await harness({ preChatForm: { enabled: false } });
    expect(await connect(pp)).not.toHaveProperty('preChatForm');
  });

  it('sends trackedElements when configured', async () => {
    const trackedElements = [
      { selector: '#buy', name: 'clicked_buy', event: 'click' as const, data: { plan: 'pro' } },
      { selector: 'form.signup', name: 'signup', event: 'submit' as const, widgetMessage: 'Need help?' },
    ];
    const { pp } = await harness({ trackedElements });
    expect((await connect(pp)).trackedElements).toEqual(trackedElements);
  });

  it('turns inspectorMode on only when validateInspectorToken accepts the token', async () => {
    const seen: string[] = [];
    const { pp } = await harness({
      validateInspectorToken: (token) => {
        seen.push(token);
        return token === 'good-token';
      },
    });
    expect((await connect(pp, { inspectorToken: 'good-token' })).inspectorMode).toBe(true);
    expect(await connect(pp, { inspectorToken: 'bad-token' })).not.toHaveProperty('inspectorMode');
    expect(await connect(pp)).not.toHaveProperty('inspectorMode');
    expect(seen).toEqual(['good-token', 'bad-token']);
  });

  it('never turns inspectorMode on without a validator, or when the validator throws', async () => {
    const plain = await harness();
    expect(await connect(plain.pp, { inspectorToken: 'anything' })).not.toHaveProperty('inspectorMode');
    const throwing = await harness({
      validateInspectorToken: () => {
        throw new Error('token service down');
      },
    });
    expect(await connect(throwing.pp, { inspectorToken: 'anything' })).not.toHaveProperty('inspectorMode');
  });

  it('has no null anywhere in the response, even with a full history', async () => {
    const { pp } = await harness({
      welcomeMessage: 'Hi',
      preChatForm: { enabled: true },
      branding: { primaryColor: '#000' },
    });
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid, identity: { id: 'u1' } });
    const { messageId } = await sendVisitor(pp, sessionId, 'question');
    await pp.sendMessage(sessionId, { content: 'answer', replyTo: messageId, operatorName: 'Ana' });
    const res = await connect(pp, { visitorId: vid, sessionId });
    expect(res.messages).toHaveLength(2);
    expectNoNulls(res);
  });

  it('requires a visitorId', async () => {
    const { pp } = await harness();
    await expect(pp.handleConnect({ sessionId: null, metadata: {} })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('visitorId'),
    });
  });

  it('fires onNewSession, onSessionStart and session.started once, not on resume', async () => {
    const calls: string[] = [];
    const { pp } = await harness({
      onNewSession: (s) => {
        calls.push(`new:${s.id}`);
      },
      onSessionStart: (s) => {
        calls.push(`start:${s.id}`);
      },
    });
    pp.on('session.started', (e) => {
      calls.push(`event:${e.session.id}`);
    });
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    await connect(pp, { visitorId: vid, sessionId });
    await connect(pp, { visitorId: vid, sessionId: null });
    expect(calls).toEqual([`new:${sessionId}`, `start:${sessionId}`, `event:${sessionId}`]);
  });

  it('a throwing onNewSession hook does not break the connect', async () => {
    const { pp } = await harness({
      onNewSession: () => {
        throw new Error('hook bug');
      },
    });
    const res = await connect(pp);
    expect(res.sessionId).toBeTruthy();
  });

  it('tells the bridges about a new session once', async () => {
    const sessions: string[] = [];
    const { pp } = await harness({}, [
      {
        name: 'recorder',
        onNewSession: (s) => {
          sessions.push(s.id);
        },
      },
    ]);
    const vid = visitorId();
    const { sessionId } = await connect(pp, { visitorId: vid });
    await connect(pp, { visitorId: vid, sessionId });
    await pp.flushDeliveries();
    expect(sessions).toEqual([sessionId]);
  });
});
