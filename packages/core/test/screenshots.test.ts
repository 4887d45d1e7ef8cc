import { describe, expect, it } from 'vitest';
import { CTX, expectCode, harness, newSession, sendVisitor, tab } from './helpers.js';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

describe('screenshots', () => {
  it('requestScreenshot emits screenshot_request to the session', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    const req = await pp.requestScreenshot(sessionId, { requestedBy: 'Ana', requestedFrom: 'telegram' });
    expect(t.of('screenshot_request')).toEqual([
      {
        type: 'screenshot_request',
        data: { requestId: req.requestId, requestedBy: 'Ana', requestedFrom: 'telegram' },
      },
    ]);
  });

  it('GET /screenshot/requests hands each request out once', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const a = await pp.requestScreenshot(sessionId);
    const b = await pp.requestScreenshot(sessionId, { silent: true });
    expect(await pp.handleScreenshotRequests({ sessionId })).toEqual({
      requests: [{ requestId: a.requestId }, { requestId: b.requestId, silent: true }],
    });
    expect(await pp.handleScreenshotRequests({ sessionId })).toEqual({ requests: [] });
    const c = await pp.requestScreenshot(sessionId);
    expect(await pp.handleScreenshotRequests({ sessionId })).toEqual({ requests: [{ requestId: c.requestId }] });
  });

  it('replays undelivered requests when a stream opens, not delivered ones', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const a = await pp.requestScreenshot(sessionId);
    const replay = (await pp.streamReplay(sessionId)).map((f) => JSON.parse(f.json));
    expect(replay).toEqual([{ type: 'screenshot_request', data: { requestId: a.requestId } }]);
    await pp.handleScreenshotRequests({ sessionId });
    expect(await pp.streamReplay(sessionId)).toEqual([]);
  });

  it('upload and complete create a visitor message carrying the image', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const req = await pp.requestScreenshot(sessionId);
    const up = await pp.handleScreenshotUpload({ sessionId, requestId: req.requestId }, CTX);
    expect(up.uploadUrl.startsWith('https://')).toBe(true);
    await pp.handleUploadData(up.attachmentId, PNG);
    const t = tab(pp, sessionId);
    const res = await pp.handleScreenshotUploadComplete(
      { sessionId, requestId: req.requestId, attachmentId: up.attachmentId, size: PNG.byteLength },
      CTX,
    );
    expect(res).toEqual({
      success: true,
      messageId: expect.any(String),
      attachmentId: up.attachmentId,
      url: expect.any(String),
    });
    const [message] = await storage.getMessages(sessionId);
    expect(message).toMatchObject({ id: res.messageId, sender: 'visitor', content: '' });
    expect(message!.attachments![0]).toMatchObject({ id: up.attachmentId, mimeType: 'image/png', status: 'ready' });
    expect(t.of('message')[0]!.data.attachments[0]).toMatchObject({ id: up.attachmentId, mimeType: 'image/png' });
    // Completed requests are not handed out again.
    expect(await pp.handleScreenshotRequests({ sessionId })).toEqual({ requests: [] });
  });

  it('a silent screenshot creates no chat message and answers messageId null', async () => {
    const { pp, storage, bridge } = await harness();
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.flushDeliveries();
    const req = await pp.requestScreenshot(sessionId, { silent: true });
    const up = await pp.handleScreenshotUpload({ sessionId, requestId: req.requestId }, CTX);
    await pp.handleUploadData(up.attachmentId, PNG);
    const res = await pp.handleScreenshotUploadComplete(
      { sessionId, requestId: req.requestId, attachmentId: up.attachmentId },
      CTX,
    );
    expect(res.messageId).toBeNull();
    expect((await storage.getMessages(sessionId)).map((m) => m.content)).toEqual(['hi']);
    await pp.flushDeliveries();
    const notices = bridge.thread(bridge.threadOf(sessionId)!).filter((m) => m.kind === 'notice');
    expect(notices.map((m) => m.text)).toEqual([`📸 Screenshot: ${res.url}`]);
  });

  it('completing the same request twice creates one message', async () => {
    const { pp, storage } = await harness();
    const sessionId = await newSession(pp);
    const req = await pp.requestScreenshot(sessionId);
    const up = await pp.handleScreenshotUpload({ sessionId, requestId: req.requestId }, CTX);
    await pp.handleUploadData(up.attachmentId, PNG);
    const body = { sessionId, requestId: req.requestId, attachmentId: up.attachmentId };
    await pp.handleScreenshotUploadComplete(body, CTX);
    expect((await pp.handleScreenshotUploadComplete(body, CTX)).messageId).toBeNull();
    expect(await storage.getMessages(sessionId)).toHaveLength(1);
  });

  it('rejects an upload for an unknown request', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    await expectCode(
      pp.handleScreenshotUpload({ sessionId, requestId: 'scr_unknown' }, CTX),
      'SCREENSHOT_REQUEST_NOT_FOUND',
    );
  });

  it("rejects another session's screenshot request", async () => {
    const { pp } = await harness();
    const a = await newSession(pp);
    const b = await newSession(pp);
    const req = await pp.requestScreenshot(a);
    await expectCode(
      pp.handleScreenshotUpload({ sessionId: b, requestId: req.requestId }, CTX),
      'SCREENSHOT_REQUEST_NOT_FOUND',
    );
    expect(await pp.handleScreenshotRequests({ sessionId: b })).toEqual({ requests: [] });
  });
});
