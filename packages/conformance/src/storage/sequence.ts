import type { Message, Storage } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { makeMessage, makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

/**
 * Message sequence numbers (`Message.seq`, `Session.seq`, `MessageQuery.afterSeq`): the resume
 * points of realtime streams. Optional: a storage whose `saveMessage` returns no `seq` skips them.
 */
export function sequenceTests(options: StorageConformanceOptions): void {
  describe('sequence numbers', () => {
    const open = useStorage(options);

    /** A storage and session, or undefined when the storage does not assign sequence numbers. */
    async function sequenced(): Promise<{ s: Storage; sessionId: string } | undefined> {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const probe = await s.saveMessage(makeMessage(session.id, { content: 'probe' }));
      if (!probe || typeof probe.seq !== 'number') return undefined;
      return { s, sessionId: session.id };
    }

    it('a new session reports seq 0 and each saved message a higher seq than the one before', async (ctx) => {
      const s = await open();
      const session = makeSession();
      await s.createSession(session);
      const first = await s.saveMessage(makeMessage(session.id, { content: 'one' }));
      if (!first || typeof first.seq !== 'number') return ctx.skip();
      // Read back a session that never had a message: seq 0 (not undefined), so a stream
      // knows the storage is sequenced before the first message.
      const empty = makeSession();
      await s.createSession(empty);
      expect((await s.getSession(empty.id))?.seq).toBe(0);

      const seqs = [first.seq];
      for (const content of ['two', 'three', 'four']) {
        const saved = (await s.saveMessage(makeMessage(session.id, { content }))) as Message;
        seqs.push(saved.seq!);
      }
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
      expect(seqs[0]).toBeGreaterThan(0);
      expect((await s.getSession(session.id))?.seq).toBe(seqs.at(-1));
      const listed = await s.getMessages(session.id);
      expect(listed.map((m) => m.seq)).toEqual(seqs);
    });

    it('updateMessage gives the message the next seq, and getMessage reads it back', async (ctx) => {
      const ready = await sequenced();
      if (!ready) return ctx.skip();
      const { s, sessionId } = ready;
      const a = (await s.saveMessage(makeMessage(sessionId, { content: 'a' }))) as Message;
      const b = (await s.saveMessage(makeMessage(sessionId, { content: 'b' }))) as Message;
      if (!has(s, 'updateMessage')) return ctx.skip();
      const edited = await s.updateMessage(a.id, { content: 'a2', editedAt: new Date(), updatedAt: new Date() });
      expect(edited?.seq).toBeGreaterThan(b.seq!);
      expect((await s.getSession(sessionId))?.seq).toBe(edited?.seq);
      if (has(s, 'getMessage')) expect((await s.getMessage(a.id))?.seq).toBe(edited?.seq);
      // A seq given in the patch is not taken: the storage assigns it.
      const again = await s.updateMessage(a.id, { seq: 1, status: 'read' } as never);
      expect(again?.seq).toBeGreaterThan(edited!.seq!);
    });

    it('getMessages({ afterSeq }) returns exactly what was created or changed after that point', async (ctx) => {
      const ready = await sequenced();
      if (!ready) return ctx.skip();
      const { s, sessionId } = ready;
      const a = (await s.saveMessage(makeMessage(sessionId, { content: 'a' }))) as Message;
      const b = (await s.saveMessage(makeMessage(sessionId, { content: 'b' }))) as Message;
      const point = (await s.getSession(sessionId))!.seq!;
      const c = (await s.saveMessage(makeMessage(sessionId, { content: 'c' }))) as Message;
      if (has(s, 'updateMessage')) await s.updateMessage(a.id, { status: 'read', readAt: new Date() });
      const after = await s.getMessages(sessionId, { afterSeq: point });
      const expected = has(s, 'updateMessage') ? [a.id, c.id] : [c.id];
      expect(after.map((m) => m.id)).toEqual(expected);
      expect(after.every((m) => m.seq! > point)).toBe(true);
      expect(await s.getMessages(sessionId, { afterSeq: (await s.getSession(sessionId))!.seq! })).toEqual([]);
      // With a limit, the newest (by timestamp) are kept, still ascending.
      const limited = await s.getMessages(sessionId, { afterSeq: 0, limit: 2 });
      expect(limited.map((m) => m.id)).toEqual([b.id, c.id]);
    });

    it('parallel writers in one session get distinct sequence numbers, and the session ends on the highest', async (ctx) => {
      const ready = await sequenced();
      if (!ready) return ctx.skip();
      const { s, sessionId } = ready;
      const saved = (await Promise.all(
        Array.from({ length: 40 }, (_, i) => s.saveMessage(makeMessage(sessionId, { content: `p${i}` }))),
      )) as Message[];
      const seqs = saved.map((m) => m.seq!);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect((await s.getSession(sessionId))?.seq).toBe(Math.max(...seqs));
    });

    it('sessions count independently: a write elsewhere does not move this session', async (ctx) => {
      const ready = await sequenced();
      if (!ready) return ctx.skip();
      const { s, sessionId } = ready;
      const before = (await s.getSession(sessionId))!.seq!;
      const other = makeSession();
      await s.createSession(other);
      await s.saveMessage(makeMessage(other.id, { content: 'elsewhere' }));
      expect((await s.getSession(sessionId))?.seq).toBe(before);
    });

    it('stream resume records round-trip through updateSession, and seq in a session patch is ignored', async (ctx) => {
      const ready = await sequenced();
      if (!ready || !has(ready.s, 'updateSession')) return ctx.skip();
      const { s, sessionId } = ready;
      const at = new Date(Date.now() - 5_000);
      const seq = (await s.getSession(sessionId))!.seq!;
      await s.updateSession(sessionId, { streamResume: [{ seq: 1, at }], seq: 999 } as never);
      const got = await s.getSession(sessionId);
      expect(got?.streamResume).toEqual([{ seq: 1, at }]);
      expect(got?.streamResume?.[0]?.at).toBeInstanceOf(Date);
      expect(got?.seq).toBe(seq);
      await s.updateSession(sessionId, { streamResume: [] });
      expect((await s.getSession(sessionId))?.streamResume ?? []).toEqual([]);
    });
  });
}
