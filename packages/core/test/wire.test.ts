import { collectBytes, type Message, MemoryAttachmentStore, toWireMessage, toWireReplyTo } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { nullPaths } from './helpers.js';

const base: Message = {
  id: 'msg_1',
  sessionId: 'ses_1',
  content: 'hello',
  sender: 'visitor',
  timestamp: new Date('2026-01-31T12:00:00.000Z'),
  updatedAt: new Date('2026-01-31T12:00:00.000Z'),
  status: 'sent',
  source: 'widget',
  bridgeMessageIds: { telegram: '42' },
  metadata: { internal: true },
};

describe('toWireMessage', () => {
  it('sends only the fields the widget reads, with ISO timestamps and nothing absent', () => {
    expect(toWireMessage(base)).toEqual({
      id: 'msg_1',
      sessionId: 'ses_1',
      content: 'hello',
      sender: 'visitor',
      timestamp: '2026-01-31T12:00:00.000Z',
      status: 'sent',
    });
  });

  it('never sends null, even for a stored object with explicit undefined fields', () => {
    const wire = toWireMessage({ ...base, editedAt: undefined, replyTo: undefined, attachments: [] });
    expect(nullPaths(JSON.parse(JSON.stringify(wire)))).toEqual([]);
    expect(wire).not.toHaveProperty('attachments');
    expect(wire).not.toHaveProperty('editedAt');
  });

  it('blanks the content and drops attachments of a deleted message', () => {
    const wire = toWireMessage({
      ...base,
      deletedAt: new Date('2026-01-31T12:05:00.000Z'),
      attachments: [
        {
          id: 'att_1',
          sessionId: 'ses_1',
          filename: 'a.png',
          mimeType: 'image/png',
          size: 1,
          url: 'https://x/a.png',
          status: 'ready',
          storageKey: 'k',
          createdAt: new Date(),
        },
      ],
    });
    expect(wire).toMatchObject({ content: '', deletedAt: '2026-01-31T12:05:00.000Z' });
    expect(wire).not.toHaveProperty('attachments');
  });

  it('keeps a replyTo string when the referenced message is unknown', () => {
    expect(toWireMessage({ ...base, replyTo: 'msg_gone' }).replyTo).toBe('msg_gone');
  });

  it('sends operatorName only for operator and AI messages', () => {
    expect(toWireMessage({ ...base, operatorName: 'Ana' })).not.toHaveProperty('operatorName');
    expect(toWireMessage({ ...base, sender: 'operator', operatorName: 'Ana' }).operatorName).toBe('Ana');
  });
});

describe('toWireReplyTo', () => {
  it('marks a deleted reference and hides its content', () => {
    expect(toWireReplyTo({ ...base, deletedAt: new Date() })).toEqual({
      id: 'msg_1',
      content: '',
      sender: 'visitor',
      deleted: true,
    });
  });
});

describe('MemoryAttachmentStore', () => {
  async function* parts(...chunks: number[][]): AsyncIterable<Uint8Array> {
    for (const c of chunks) yield new Uint8Array(c);
  }

  it('stores streamed bytes and reports their size', async () => {
    const store = new MemoryAttachmentStore();
    expect(await store.put('k', parts([1, 2], [3]), { mimeType: 'application/pdf' })).toEqual({
      size: 3,
      mimeType: 'application/pdf',
    });
    expect((await store.get('k'))?.data).toEqual(new Uint8Array([1, 2, 3]));
    await store.delete('k');
    expect(await store.stat('k')).toBeNull();
  });

  it('stops past maxBytes with ATTACHMENT_TOO_LARGE', async () => {
    await expect(collectBytes(parts([1, 2], [3, 4]), 3)).rejects.toMatchObject({ code: 'ATTACHMENT_TOO_LARGE' });
    await expect(collectBytes(new Uint8Array(5), 4)).rejects.toMatchObject({ code: 'ATTACHMENT_TOO_LARGE' });
  });
});
