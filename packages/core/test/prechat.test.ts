import { describe, expect, it } from 'vitest';
import { connect, expectCode, harness, newSession, sendVisitor, visitorId } from './helpers.js';

describe('POST /prechat', () => {
  it('stores email, phone and country and answers { ok: true }', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const res = await pp.handlePreChat({
      sessionId,
      email: ' ana@example.com ',
      phone: '+33612345678',
      phoneCountry: 'fr',
    });
    expect(res).toEqual({ ok: true });
    expect((await storage.getSession(sessionId))!.preChat).toMatchObject({
      email: 'ana@example.com',
      phone: '+33612345678',
      phoneCountry: 'FR',
      submittedAt: expect.any(Date),
    });
  });

  it('accepts an email alone and a phone alone', async () => {
    const { pp } = await harness();
    await pp.handlePreChat({ sessionId: await newSession(pp), email: 'a@b.co' });
    await pp.handlePreChat({ sessionId: await newSession(pp), phone: '+14155550100' });
  });

  it('rejects a submission with neither email nor phone', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const err = await expectCode(pp.handlePreChat({ sessionId }), 'VALIDATION_FAILED');
    expect(err.message).toMatch(/email or a phone/);
  });

  it('rejects a malformed email', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const err = await expectCode(pp.handlePreChat({ sessionId, email: 'not-an-email' }), 'VALIDATION_FAILED');
    expect(err.message).toContain('email');
  });

  it('rejects a phone number that is not E.164', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    for (const phone of ['0612345678', '+0612345678', '+33 6 12 34 56 78', '+1']) {
      const err = await expectCode(pp.handlePreChat({ sessionId, phone }), 'VALIDATION_FAILED');
      expect(err.message).toContain('phone');
    }
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(pp.handlePreChat({ sessionId: 'ses_nope', email: 'a@b.co' }), 'SESSION_NOT_FOUND');
  });

  it('marks the form completed on the next connect', async () => {
    const { pp } = await harness({ preChatForm: { enabled: true } });
    const vid = visitorId();
    const { sessionId, preChatForm } = await connect(pp, { visitorId: vid });
    expect(preChatForm?.completed).toBe(false);
    await pp.handlePreChat({ sessionId, email: 'a@b.co' });
    expect((await connect(pp, { visitorId: vid, sessionId })).preChatForm?.completed).toBe(true);
  });

  it('posts the answers to the bridge thread once one exists', async () => {
    const { pp, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hello');
    await pp.flushDeliveries();
    await pp.handlePreChat({ sessionId, email: 'ana@example.com', phone: '+33612345678' });
    await pp.flushDeliveries();
    const notices = bridge.thread(bridge.threadOf(sessionId)!).filter((m) => m.kind === 'notice');
    expect(notices.map((m) => m.text)).toEqual(['📋 Pre-chat form: ana@example.com · +33612345678']);
  });

  it('emits prechat.submitted', async () => {
    const { pp } = await harness();
    const seen: string[] = [];
    pp.on('prechat.submitted', (e) => {
      seen.push(e.session.preChat?.email ?? '');
    });
    await pp.handlePreChat({ sessionId: await newSession(pp), email: 'a@b.co' });
    expect(seen).toEqual(['a@b.co']);
  });
});
