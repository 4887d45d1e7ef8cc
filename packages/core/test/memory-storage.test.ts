import { describe, expect, it } from 'vitest';
import { type Message, MemoryStorage, type Session } from '../src/index.js';

const session = (id: string): Session => ({
  id,
  visitorId: `v-${id}`,
  createdAt: new Date(0),
  lastActivity: new Date(0),
  status: 'open',
  metadata: {},
});

const message = (id: string, sessionId: string, at: number, content = id): Message => ({
  id,
  sessionId,
  content,
  sender: 'visitor',
  timestamp: new Date(at),
  updatedAt: new Date(at),
  status: 'sent',
});

describe('MemoryStorage message lists', () => {
  it('keeps history sorted when messages arrive out of order, and appends the newest', async () => {
    const s = new MemoryStorage();
    await s.createSession(session('ses_a'));
    for (const [id, at] of [
      ['m3', 3000],
      ['m1', 1000],
      ['m4', 4000],
      ['m2', 2000],
      ['m5', 5000],
    ] as const)
      await s.saveMessage(message(id, 'ses_a', at));
    expect((await s.getMessages('ses_a')).map((m) => m.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('a message saved again under another session leaves the first session', async () => {
    const s = new MemoryStorage();
    await s.createSession(session('ses_a'));
    await s.createSession(session('ses_b'));
    await s.saveMessage(message('m1', 'ses_a', 1000));
    await s.saveMessage(message('m2', 'ses_a', 2000));
    await s.saveMessage(message('m1', 'ses_b', 1500, 'moved'));
    expect((await s.getMessages('ses_a')).map((m) => m.id)).toEqual(['m2']);
    expect((await s.getMessages('ses_b')).map((m) => m.content)).toEqual(['moved']);
    expect((await s.getMessage('m1'))?.sessionId).toBe('ses_b');
  });

  it('saveMessageWithSession patches the session and answers copies that do not alias storage', async () => {
    const s = new MemoryStorage();
    await s.createSession(session('ses_a'));
    const result = await s.saveMessageWithSession(message('m1', 'ses_a', 1000), {
      lastActivity: new Date(1000),
      hasVisitorMessage: true,
      metadata: { url: 'https://a.example/' },
    });
    expect(result?.session).toMatchObject({ hasVisitorMessage: true, seq: 1, metadata: { url: 'https://a.example/' } });
    result!.message.content = 'changed by the caller';
    result!.session.metadata.url = 'changed by the caller';
    expect((await s.getMessage('m1'))?.content).toBe('m1');
    expect((await s.getSession('ses_a'))?.metadata.url).toBe('https://a.example/');
  });
});
