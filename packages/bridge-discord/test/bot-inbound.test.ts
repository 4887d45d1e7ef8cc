import { collectBytes } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';
import { snowflake } from './fake-discord.js';
import { type Harness, startHarness, waitFor } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function openThread(
  harness: Harness,
): Promise<{ sessionId: string; threadId: string; visitorMessageId: string }> {
  const sessionId = await harness.connect();
  const visitorMessageId = await harness.send(sessionId, 'Is anyone there?');
  await harness.pp.flushDeliveries();
  return { sessionId, threadId: (await harness.threadOf(sessionId))!, visitorMessageId };
}

async function operatorMessages(harness: Harness, sessionId: string) {
  return (await harness.storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
}

describe('bot mode, Discord → widget (Gateway)', () => {
  it('connects with the Message Content intent so operator text is readable', async () => {
    h = await startHarness();
    expect(h.discord.identifiedIntents & (1 << 15)).not.toBe(0);
    expect(h.discord.gatewayConnections).toBe(1);
  });

  it('a human reply in the thread reaches the widget with the member display name', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    h.discord.say(threadId, 'Yes! How can I help?', { as: h.discord.human('ana', 'Ana (Support)') });
    await waitFor(() =>
      h!.frames(sessionId).some((f) => f.event.type === 'message' && f.event.data.sender === 'operator'),
    );
    const [reply] = await operatorMessages(h, sessionId);
    expect(reply!.content).toBe('Yes! How can I help?');
    expect(reply!.operatorName).toBe('Ana (Support)');
    expect(reply!.source).toBe('discord');
  });

  it('without a nickname the global name is used', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    h.discord.say(threadId, 'hello', { as: h.discord.human('bob') });
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 1);
    expect((await operatorMessages(h, sessionId))[0]!.operatorName).toBe('BOB');
  });

  it('an operator reply to a visitor message keeps the reference', async () => {
    h = await startHarness();
    const { sessionId, threadId, visitorMessageId } = await openThread(h);
    const [posted] = h.discord.channelMessages(threadId);
    h.discord.say(threadId, 'About that: yes', { replyTo: posted!.id });
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 1);
    expect((await operatorMessages(h, sessionId))[0]!.replyTo).toBe(visitorMessageId);
  });

  it('quick replies reach the widget in the order they were written', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    for (const text of ['one', 'two', 'three', 'four']) h.discord.say(threadId, text);
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 4);
    expect((await operatorMessages(h, sessionId)).map((m) => m.content)).toEqual(['one', 'two', 'three', 'four']);
  });

  it('operator files are downloaded into PocketPing and served to the visitor', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    const png = Buffer.from('\x89PNG fake image bytes');
    h.discord.say(threadId, 'see screenshot', {
      files: [{ filename: 'steps.png', data: png, contentType: 'image/png' }],
    });
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 1);
    const [reply] = await operatorMessages(h, sessionId);
    expect(reply!.attachments).toHaveLength(1);
    const attachment = reply!.attachments![0]!;
    expect(attachment.filename).toBe('steps.png');
    expect(attachment.mimeType).toBe('image/png');
    const stored = await h.pp.readAttachment(attachment.id);
    expect(Buffer.from(await collectBytes(stored!.data)).equals(png)).toBe(true);
  });

  it('an operator file larger than PocketPing accepts reaches the visitor as a link', async () => {
    h = await startHarness({ maxAttachmentSize: 16 });
    const { sessionId, threadId } = await openThread(h);
    const sent = h.discord.say(threadId, 'the full log', {
      files: [{ filename: 'server.log', data: Buffer.alloc(64, 65), contentType: 'text/plain' }],
    });
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 1);
    const [reply] = await operatorMessages(h, sessionId);
    expect(reply!.attachments ?? []).toHaveLength(0);
    expect(reply!.content).toBe(`the full log\n${sent.attachments[0]!.url}`);
  });

  it('an operator edit and delete in Discord reach the widget', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    const sent = h.discord.say(threadId, 'Our prices start at $10');
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 1);

    h.discord.edit(sent.id, 'Our prices start at $12');
    await waitFor(async () => (await operatorMessages(h!, sessionId))[0]!.content === 'Our prices start at $12');
    expect((await operatorMessages(h, sessionId))[0]!.editedAt).toBeInstanceOf(Date);
    expect(h.frames(sessionId).some((f) => f.event.type === 'message_edited')).toBe(true);

    h.discord.remove(sent.id);
    await waitFor(async () => (await operatorMessages(h!, sessionId))[0]!.deletedAt !== undefined);
    expect(h.frames(sessionId).some((f) => f.event.type === 'message_deleted')).toBe(true);
  });

  it('deleting a visitor message in Discord does not delete it for the visitor', async () => {
    h = await startHarness();
    const { sessionId, threadId, visitorMessageId } = await openThread(h);
    const [posted] = h.discord.channelMessages(threadId);
    h.discord.remove(posted!.id);
    // A later operator message proves the delete event was processed before it (same thread queue).
    h.discord.say(threadId, 'marker');
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 1);
    const visitor = (await h.storage.getMessages(sessionId)).find((m) => m.id === visitorMessageId)!;
    expect(visitor.deletedAt).toBeUndefined();
  });

  it('operator typing in the thread shows in the widget', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    h.discord.startTyping(threadId);
    await waitFor(() =>
      h!
        .frames(sessionId)
        .some((f) => f.event.type === 'typing' && f.event.data.sender === 'operator' && f.event.data.isTyping),
    );
  });

  it('messages from bots, webhooks and the bridge itself are ignored', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    h.discord.say(threadId, 'I am another bot', { as: { user: { ...h.discord.human('helper').user, bot: true } } });
    h.discord.say(threadId, 'from a webhook', { webhookId: snowflake() });
    h.discord.say(threadId, 'from the bot account', { as: { user: h.discord.botUser } });
    // Posts of the bridge itself echo back through the Gateway as well.
    await h.pp.sendMessage(sessionId, { content: 'mirrored', operatorName: 'Ana', sourceBridge: 'telegram' });
    await h.pp.flushDeliveries();
    h.discord.say(threadId, 'marker from a human');
    await waitFor(async () => (await operatorMessages(h!, sessionId)).some((m) => m.content === 'marker from a human'));
    expect((await operatorMessages(h, sessionId)).map((m) => m.content)).toEqual(['mirrored', 'marker from a human']);
  });

  it('a message delivered twice by the Gateway is applied once', async () => {
    h = await startHarness();
    const { sessionId, threadId } = await openThread(h);
    const sent = h.discord.say(threadId, 'only once please');
    h.discord.redeliver(sent.id);
    h.discord.say(threadId, 'marker');
    await waitFor(async () => (await operatorMessages(h!, sessionId)).some((m) => m.content === 'marker'));
    expect((await operatorMessages(h, sessionId)).map((m) => m.content)).toEqual(['only once please', 'marker']);
  });

  it('messages outside conversation threads are ignored', async () => {
    h = await startHarness();
    const { sessionId } = await openThread(h);
    h.discord.say(h.discord.channelId, 'chatting in the main channel');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    h.discord.say(threadId, 'marker');
    await waitFor(async () => (await operatorMessages(h!, sessionId)).length === 1);
    expect((await operatorMessages(h, sessionId)).map((m) => m.content)).toEqual(['marker']);
  });
});
