import { describe, expect, it } from 'vitest';
import { BASE_URL, CTX, expectCode, expectNoNulls, harness, newSession } from './helpers.js';

const PDF = new TextEncoder().encode('%PDF-1.4 hello');

async function* chunks(...parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield p;
}

describe('POST /upload', () => {
  it('answers { attachmentId, uploadUrl, expiresAt } with an absolute upload URL', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const res = await pp.handleUploadRequest(
      { sessionId, filename: 'invoice.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    expect(res.attachmentId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(new URL(res.uploadUrl).href.startsWith(`${BASE_URL}/`)).toBe(true);
    expect(res.uploadUrl).toContain(res.attachmentId);
    expect(Date.parse(res.expiresAt)).toBeGreaterThan(Date.now());
    expectNoNulls(res);
  });

  it('uses publicUrl for the upload URL when configured', async () => {
    const { pp } = await harness({ publicUrl: 'https://api.example.org/chat/' });
    const sessionId = await newSession(pp);
    const res = await pp.handleUploadRequest({ sessionId, filename: 'a.txt', mimeType: 'text/plain', size: 1 }, {});
    expect(res.uploadUrl).toBe(`https://api.example.org/chat/upload/${res.attachmentId}`);
  });

  it('rejects a file larger than maxAttachmentSize with ATTACHMENT_TOO_LARGE', async () => {
    const { pp } = await harness({ maxAttachmentSize: 1000 });
    const sessionId = await newSession(pp);
    await expectCode(
      pp.handleUploadRequest({ sessionId, filename: 'big.pdf', mimeType: 'application/pdf', size: 1001 }, CTX),
      'ATTACHMENT_TOO_LARGE',
    );
  });

  it('rejects a size of zero or less as a validation error', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    for (const size of [0, -5]) {
      const err = await expectCode(
        pp.handleUploadRequest({ sessionId, filename: 'e.pdf', mimeType: 'application/pdf', size }, CTX),
        'VALIDATION_FAILED',
      );
      expect(err.message).toContain('size');
    }
  });

  it('rejects a disallowed MIME type with ATTACHMENT_TYPE_NOT_ALLOWED', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(
      pp.handleUploadRequest({ sessionId, filename: 'run.exe', mimeType: 'application/x-msdownload', size: 10 }, CTX),
      'ATTACHMENT_TYPE_NOT_ALLOWED',
    );
  });

  it('accepts application/octet-stream and common media types by default', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    for (const mimeType of ['application/octet-stream', 'audio/ogg', 'video/webm', 'image/heic', '']) {
      const res = await pp.handleUploadRequest({ sessionId, filename: 'f', mimeType, size: 10 }, CTX);
      expect(res.attachmentId).toBeTruthy();
    }
  });

  it('honours a custom allow-list', async () => {
    const { pp } = await harness({ allowedMimeTypes: ['image/*'] });
    const sessionId = await newSession(pp);
    await pp.handleUploadRequest({ sessionId, filename: 'p.png', mimeType: 'image/png', size: 1 }, CTX);
    await expectCode(
      pp.handleUploadRequest({ sessionId, filename: 'a.pdf', mimeType: 'application/pdf', size: 1 }, CTX),
      'ATTACHMENT_TYPE_NOT_ALLOWED',
    );
  });

  it('answers SESSION_NOT_FOUND for an unknown session', async () => {
    const { pp } = await harness();
    await expectCode(
      pp.handleUploadRequest({ sessionId: 'ses_nope', filename: 'a', mimeType: 'text/plain', size: 1 }, CTX),
      'SESSION_NOT_FOUND',
    );
  });

  it('answers ATTACHMENTS_UNAVAILABLE when no attachment store is configured', async () => {
    const { pp } = await harness({ attachmentStore: undefined });
    const sessionId = await newSession(pp);
    await expectCode(
      pp.handleUploadRequest({ sessionId, filename: 'a', mimeType: 'text/plain', size: 1 }, CTX),
      'ATTACHMENTS_UNAVAILABLE',
    );
  });
});

describe('PUT {uploadUrl} (handleUploadData)', () => {
  it('accepts the bytes once; a second PUT answers ATTACHMENT_UPLOAD_EXPIRED', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'a.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    expect(await pp.handleUploadData(attachmentId, chunks(PDF.slice(0, 5), PDF.slice(5)))).toEqual({
      ok: true,
      size: PDF.byteLength,
    });
    await expectCode(pp.handleUploadData(attachmentId, PDF), 'ATTACHMENT_UPLOAD_EXPIRED');
  });

  it('rejects more bytes than declared with ATTACHMENT_TOO_LARGE and keeps nothing', async () => {
    const { pp, files } = await harness();
    const sessionId = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'a.pdf', mimeType: 'application/pdf', size: 4 },
      CTX,
    );
    await expectCode(pp.handleUploadData(attachmentId, chunks(PDF.slice(0, 3), PDF.slice(3))), 'ATTACHMENT_TOO_LARGE');
    expect(await files.stat(`${sessionId}/${attachmentId}`)).toBeNull();
    await expectCode(pp.handleUploadComplete({ sessionId, attachmentId }, CTX), 'ATTACHMENT_NOT_READY');
  });

  it('answers ATTACHMENT_NOT_FOUND for an unknown upload id', async () => {
    const { pp } = await harness();
    await expectCode(pp.handleUploadData('att_unknown', PDF), 'ATTACHMENT_NOT_FOUND');
  });

  it('answers ATTACHMENT_UPLOAD_EXPIRED once the URL lifetime has passed', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'a.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    await storage.updateAttachment(attachmentId, { expiresAt: new Date(Date.now() - 1000) });
    await expectCode(pp.handleUploadData(attachmentId, PDF), 'ATTACHMENT_UPLOAD_EXPIRED');
  });
});

describe('POST /upload/complete', () => {
  it('before the bytes arrived answers ATTACHMENT_NOT_READY', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'a.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    await expectCode(pp.handleUploadComplete({ sessionId, attachmentId }, CTX), 'ATTACHMENT_NOT_READY');
  });

  it('returns the widget Attachment: id, filename, mimeType, size, absolute url, status ready', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'invoice 2024.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    await pp.handleUploadData(attachmentId, PDF);
    const att = await pp.handleUploadComplete({ sessionId, attachmentId }, CTX);
    expect(att).toEqual({
      id: attachmentId,
      filename: 'invoice 2024.pdf',
      mimeType: 'application/pdf',
      size: PDF.byteLength,
      url: expect.any(String),
      status: 'ready',
    });
    expect(att.url.startsWith(`${BASE_URL}/`)).toBe(true);
    expect(() => new URL(att.url)).not.toThrow();
    expectNoNulls(att);
  });

  it('gives images a thumbnailUrl', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'p.png', mimeType: 'image/png', size: png.byteLength },
      CTX,
    );
    await pp.handleUploadData(attachmentId, png);
    const att = await pp.handleUploadComplete({ sessionId, attachmentId }, CTX);
    expect(att.thumbnailUrl).toBe(att.url);
  });

  it('is safe to call twice', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'a.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    await pp.handleUploadData(attachmentId, PDF);
    const first = await pp.handleUploadComplete({ sessionId, attachmentId }, CTX);
    expect(await pp.handleUploadComplete({ sessionId, attachmentId }, CTX)).toEqual(first);
  });

  it('another session can neither complete nor use the upload', async () => {
    const { pp } = await harness();
    const owner = await newSession(pp);
    const intruder = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId: owner, filename: 'a.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    await pp.handleUploadData(attachmentId, PDF);
    await expectCode(pp.handleUploadComplete({ sessionId: intruder, attachmentId }, CTX), 'ATTACHMENT_NOT_FOUND');
    await pp.handleUploadComplete({ sessionId: owner, attachmentId }, CTX);
    await expectCode(
      pp.handleMessage({ sessionId: intruder, content: '', attachmentIds: [attachmentId] }, CTX),
      'ATTACHMENT_NOT_FOUND',
    );
  });

  it('serves the bytes of a ready attachment, and nothing before', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const { attachmentId } = await pp.handleUploadRequest(
      { sessionId, filename: 'a.pdf', mimeType: 'application/pdf', size: PDF.byteLength },
      CTX,
    );
    await pp.handleUploadData(attachmentId, PDF);
    expect(await pp.readAttachment(attachmentId)).toBeNull();
    await pp.handleUploadComplete({ sessionId, attachmentId }, CTX);
    const file = await pp.readAttachment(attachmentId);
    expect(file?.size).toBe(PDF.byteLength);
    expect(file?.data).toEqual(PDF);
  });
});
