import type { OutgoingFrame } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { BOT_ID, BOT_USER_ID, OPERATOR_ID } from './fake-slack.js';
import { setup } from './helpers.js';

describe('SlackBridge Events API: Slack → widget', () => {
  it('answers url_verification with the challenge', async () => {
    const { fake, bridge } = await setup();
    const res = await bridge.webhook!.handle(
      fake.signedRequest({ type: 'url_verification', challenge: 'c-123', token: 'x' }),
    );
    expect(res).toEqual({ status: 200, body: { challenge: 'c-123' } });
  });

  it('refuses unsigned, mis-signed and stale requests with 401 and applies nothing', async () => {
    const { fake, bridge, pp, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const m = fake.humanPost(thread, 'forged');
    const payload = fake.envelope({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: 'forged',
      ts: m.ts,
      thread_ts: thread,
    });
    const now = Math.floor(Date.now() / 1000);
    const attempts = [
      fake.signedRequest(payload, { secret: 'not-the-secret' }),
      fake.signedRequest(payload, { timestamp: now - 6 * 60 }),
      fake.signedRequest(payload, { timestamp: now + 6 * 60 }),
      fake.signedRequest(payload, { signature: 'v0=' }),
      { ...fake.signedRequest(payload), headers: { 'content-type': 'application/json' } },
      { ...fake.signedRequest(payload), rawBody: JSON.stringify(payload).replace('forged', 'tampered') },
      fake.signedRequest({ type: 'url_verification', challenge: 'x' }, { secret: 'wrong' }),
    ];
    for (const req of attempts) expect((await bridge.webhook!.handle(req)).status).toBe(401);
    await bridge.whenIdle();
    await pp.flushDeliveries();
    expect((await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator')).toEqual([]);
  });

  it('a human reply in the thread reaches the widget with the operator’s real name', async () => {
    const { fake, bridge, pp, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const frames: OutgoingFrame[] = [];
    const unsubscribe = pp.subscribe(sessionId, (f) => frames.push(f));
    const m = fake.humanPost(thread, 'Hi! See &lt;b&gt; &amp; <https://docs.example.com|the docs>, <@UANA>');
    const res = await fake.deliver({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: m.text,
      ts: m.ts,
      thread_ts: thread,
    });
    expect(res.status).toBe(200);
    await bridge.whenIdle();
    unsubscribe();
    const [reply] = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    expect(reply).toMatchObject({
      content: 'Hi! See <b> & the docs (https://docs.example.com), @Ana Lopez',
      operatorName: 'Ana Lopez',
      source: 'slack',
      bridgeMessageIds: { slack: m.ts },
    });
    const pushed = frames.find((f) => f.event.type === 'message' && f.event.data.sender === 'operator');
    expect(pushed?.event.data).toMatchObject({ content: reply!.content, operatorName: 'Ana Lopez' });
    // Not mirrored back into Slack.
    expect(fake.thread(thread)).toHaveLength(3);
  });

  it('operator names are looked up once and then cached', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    for (const text of ['one', 'two', 'three']) {
      const m = fake.humanPost(thread, text);
      await fake.deliver({
        type: 'message',
        channel: fake.channelId,
        user: OPERATOR_ID,
        text,
        ts: m.ts,
        thread_ts: thread,
      });
    }
    await bridge.whenIdle();
    const replies = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    expect(replies.map((r) => [r.content, r.operatorName])).toEqual([
      ['one', 'Ana Lopez'],
      ['two', 'Ana Lopez'],
      ['three', 'Ana Lopez'],
    ]);
    expect(fake.callsOf('users.info')).toHaveLength(1);
  });

  it('acknowledges before processing: the answer does not wait for Slack lookups', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const release = fake.hold('users.info');
    const m = fake.humanPost(thread, 'quick');
    const res = await fake.deliver({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: 'quick',
      ts: m.ts,
      thread_ts: thread,
    });
    expect(res.status).toBe(200);
    expect((await storage.getMessages(sessionId)).some((x) => x.sender === 'operator')).toBe(false);
    release();
    await bridge.whenIdle();
    expect((await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator').map((x) => x.content)).toEqual(
      ['quick'],
    );
  });

  it('Slack retries of the same event_id are applied once', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const m = fake.humanPost(thread, 'only once');
    const event = {
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: 'only once',
      ts: m.ts,
      thread_ts: thread,
    };
    expect((await fake.deliver(event, { eventId: 'Ev-dup' })).status).toBe(200);
    expect((await fake.deliver(event, { eventId: 'Ev-dup', retryNum: 1 })).status).toBe(200);
    expect((await fake.deliver(event, { eventId: 'Ev-dup', retryNum: 2 })).status).toBe(200);
    await bridge.whenIdle();
    expect((await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator').map((x) => x.content)).toEqual(
      ['only once'],
    );
  });

  it('bot messages, our own posts, top-level messages and other channels are ignored', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const base = { type: 'message', channel: fake.channelId, thread_ts: thread };
    await fake.deliver({ ...base, subtype: 'bot_message', bot_id: 'BOTHER', text: 'from another app', ts: '1.000001' });
    await fake.deliver({ ...base, bot_id: BOT_ID, user: BOT_USER_ID, text: 'our own post', ts: '1.000002' });
    await fake.deliver({ ...base, user: BOT_USER_ID, text: 'our user', ts: '1.000003' });
    await fake.deliver({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: 'top level',
      ts: '1.000004',
    });
    await fake.deliver({ ...base, channel: 'COTHER', user: OPERATOR_ID, text: 'other channel', ts: '1.000005' });
    await fake.deliver({ ...base, thread_ts: '9.999999', user: OPERATOR_ID, text: 'unknown thread', ts: '1.000006' });
    await fake.deliver({ ...base, subtype: 'channel_join', user: OPERATOR_ID, text: 'joined', ts: '1.000007' });
    await bridge.whenIdle();
    expect((await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator')).toEqual([]);
  });

  it('an operator edit in Slack edits the message in the widget', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const m = fake.humanPost(thread, 'Teh answer');
    await fake.deliver({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: m.text,
      ts: m.ts,
      thread_ts: thread,
    });
    await fake.deliver({
      type: 'message',
      subtype: 'message_changed',
      channel: fake.channelId,
      hidden: true,
      ts: '1700009999.000001',
      message: {
        type: 'message',
        user: OPERATOR_ID,
        text: 'The answer',
        ts: m.ts,
        thread_ts: thread,
        edited: { user: OPERATOR_ID, ts: '1' },
      },
      previous_message: { type: 'message', user: OPERATOR_ID, text: 'Teh answer', ts: m.ts, thread_ts: thread },
    });
    await bridge.whenIdle();
    const [reply] = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    expect(reply).toMatchObject({ content: 'The answer' });
    expect(reply!.editedAt).toBeInstanceOf(Date);
  });

  it('an operator delete in Slack deletes the message in the widget', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const m = fake.humanPost(thread, 'wrong chat');
    await fake.deliver({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: m.text,
      ts: m.ts,
      thread_ts: thread,
    });
    await fake.deliver({
      type: 'message',
      subtype: 'message_deleted',
      channel: fake.channelId,
      hidden: true,
      ts: '1700009999.000002',
      deleted_ts: m.ts,
      previous_message: { type: 'message', user: OPERATOR_ID, text: 'wrong chat', ts: m.ts, thread_ts: thread },
    });
    await bridge.whenIdle();
    const [reply] = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    expect(reply!.deletedAt).toBeInstanceOf(Date);
  });

  it('editing an operator’s Slack reply from the dashboard leaves the Slack message alone', async () => {
    const { fake, bridge, pp, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const m = fake.humanPost(thread, 'from slack');
    await fake.deliver({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: m.text,
      ts: m.ts,
      thread_ts: thread,
    });
    await bridge.whenIdle();
    const [reply] = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    await pp.editOperatorMessage(sessionId, reply!.id, 'edited in the dashboard');
    await pp.flushDeliveries();
    expect(fake.callsOf('chat.update')).toHaveLength(1);
    expect(fake.messages.find((x) => x.ts === m.ts)!.text).toBe('from slack');
    expect(await pp.deadLetters()).toEqual([]);
  });

  it('deleting our own bot post in Slack does not delete the visitor message', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation('keep me');
    const posted = fake.thread(thread)[1]!;
    await fake.deliver({
      type: 'message',
      subtype: 'message_deleted',
      channel: fake.channelId,
      ts: '1700009999.000003',
      deleted_ts: posted.ts,
      previous_message: { type: 'message', bot_id: BOT_ID, text: 'keep me', ts: posted.ts, thread_ts: thread },
    });
    await bridge.whenIdle();
    expect((await storage.getMessages(sessionId))[0]!.deletedAt).toBeUndefined();
  });

  it('files shared in the thread are downloaded with the bot token and reach the widget', async () => {
    const { fake, bridge, pp, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const bytes = Buffer.from('%PDF-1.4 fake pdf bytes');
    const file = fake.addFile('quote.pdf', 'application/pdf', bytes);
    const m = fake.humanPost(thread, 'Here is your quote');
    await fake.deliver({
      type: 'message',
      subtype: 'file_share',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: m.text,
      ts: m.ts,
      thread_ts: thread,
      files: [file],
    });
    await bridge.whenIdle();
    const [reply] = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    expect(reply!.content).toBe('Here is your quote');
    expect(reply!.attachments).toHaveLength(1);
    const attachment = reply!.attachments![0]!;
    expect(attachment).toMatchObject({
      filename: 'quote.pdf',
      mimeType: 'application/pdf',
      size: bytes.length,
      bridgeFileId: file.id,
      status: 'ready',
    });
    const stored = await pp.readAttachment(attachment.id);
    const chunks: Uint8Array[] = [];
    if (stored!.data instanceof Uint8Array) chunks.push(stored!.data);
    else for await (const chunk of stored!.data) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(fake.fileRequests).toEqual([
      { path: expect.stringContaining(file.id as string), authorization: `Bearer ${fake.token}` },
    ]);
  });

  it('a file URL outside Slack never receives the bot token; the text still arrives', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const file = fake.addFile('photo.png', 'image/png', Buffer.from([137, 80, 78, 71]));
    const m = fake.humanPost(thread, 'photo attached');
    const untrusted = {
      ...file,
      url_private_download: 'https://attacker.example/steal',
      url_private: 'https://attacker.example/steal',
    };
    await fake.deliver({
      type: 'message',
      subtype: 'file_share',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: m.text,
      ts: m.ts,
      thread_ts: thread,
      files: [untrusted],
    });
    await bridge.whenIdle();
    const [reply] = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    expect(reply).toMatchObject({ content: 'photo attached' });
    expect(reply!.attachments ?? []).toEqual([]);
    expect(fake.fileRequests).toEqual([]);
  });

  it('without files:read Slack serves its login page: the file is skipped, the text arrives', async () => {
    const { fake, bridge, storage, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    fake.scopes = 'chat:write,channels:history,users:read';
    const file = fake.addFile('photo.png', 'image/png', Buffer.from([137, 80, 78, 71]));
    const m = fake.humanPost(thread, 'photo attached');
    await fake.deliver({
      type: 'message',
      subtype: 'file_share',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: m.text,
      ts: m.ts,
      thread_ts: thread,
      files: [file],
    });
    await bridge.whenIdle();
    const [reply] = (await storage.getMessages(sessionId)).filter((x) => x.sender === 'operator');
    expect(reply).toMatchObject({ content: 'photo attached' });
    expect(reply!.attachments ?? []).toEqual([]);
    expect(fake.fileRequests).toHaveLength(1);
  });

  it('answers 503 before init so Slack delivers again later', async () => {
    const { fake } = await setup();
    const { SlackBridge } = await import('../src/index.js');
    const idle = new SlackBridge({
      botToken: fake.token,
      channelId: fake.channelId,
      signingSecret: fake.signingSecret,
      apiUrl: fake.apiUrl,
    });
    fake.bridge = idle;
    const res = await fake.deliver({
      type: 'message',
      channel: fake.channelId,
      user: OPERATOR_ID,
      text: 'x',
      ts: '1.1',
      thread_ts: '1.0',
    });
    expect(res.status).toBe(503);
  });
});
