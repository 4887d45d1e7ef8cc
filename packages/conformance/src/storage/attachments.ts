import { type Attachment, generateId } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { makeSession } from '../fixtures.js';
import { has, useStorage } from './harness.js';
import type { StorageConformanceOptions } from './types.js';

export function attachmentTests(options: StorageConformanceOptions): void {
  describe('attachments', () => {
    const open = useStorage(options);

    it('an attachment is saved, read and updated', async (ctx) => {
      const s = await open();
      if (!has(s, 'saveAttachment') || !has(s, 'getAttachment') || !has(s, 'updateAttachment')) return ctx.skip();
      const session = makeSession();
      await s.createSession(session);
      const id = generateId('att');
      const a: Attachment = {
        id,
        sessionId: session.id,
        filename: 'photo.png',
        mimeType: 'image/png',
        size: 2048,
        url: '',
        status: 'pending',
        storageKey: `${session.id}/${id}`,
        uploadedFrom: 'visitor',
        createdAt: new Date(),
        expiresAt: new Date(Date.now() + 900_000),
      };
      await s.saveAttachment(a);
      const got = await s.getAttachment(id);
      expect(got?.status).toBe('pending');
      expect(got?.expiresAt?.getTime()).toBe(a.expiresAt!.getTime());
      const ready = await s.updateAttachment(id, { status: 'ready', url: 'https://x.example/f.png', size: 2000 });
      expect(ready?.status).toBe('ready');
      const again = await s.getAttachment(id);
      expect(again).toMatchObject({
        status: 'ready',
        url: 'https://x.example/f.png',
        size: 2000,
        filename: 'photo.png',
        sessionId: session.id,
      });
      expect(await s.getAttachment('att_unknown00000000000000000')).toBeFalsy();
      expect(await s.updateAttachment('att_unknown00000000000000000', { status: 'ready' })).toBeFalsy();
    });
  });
}
