import { MemoryBridge, PocketPing, silentLogger } from '@pocketping/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TelegramBridge } from '../src/index.js';
import { setup, waitFor } from './helpers.js';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const PDF = new TextEncoder().encode('%PDF-1.4 invoice bytes');

describe('topics and the session card', () => {
  it('a topic is created on the first visitor message only, named after the visitor and page', async () => {
    const { fake, pp, connect, send, threadOf } = await setup();
    const sessionId = await connect();
    await pp.flushDeliveries();
    expect(fake.callsOf('createForumTopic')).toHaveLength(0);

    await send(sessionId, 'first');
    await send(sessionId, 'second');
    await pp.flushDeliveries();
    expect(fake.callsOf('createForumTopic')).toHaveLength(1);
    const threadId = Number(await threadOf(sessionId));
    expect(fake.topics.get(threadId)?.name).toMatch(/^Visitor \w+ · shop\.example\.com\/cart$/);
  });

  it('the session card opens the topic, before the first message, with the page facts', async () => {
    const { fake, openTopic } = await setup();
    const { threadId } = await openTopic('Do you ship to Canada?');
    const [card, first] = fake.topicMessages(threadId);
    expect(card!.visible).toContain('Page: https://shop.example.com/cart');
    expect(card!.visible).toContain('Referrer: https://www.google.com/');
    expect(card!.visible).toContain('Language: fr-FR');
    expect(card!.visible).toContain('Timezone: Europe/Paris');
    expect(card!.bold).toContain('Page:');
    expect(first!.visible).toBe('Do you ship to Canada?');
  });

  it('identifying the visitor renames the topic and updates the card in place', async () => {
    const { fake, pp, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    const cardId = fake.topicMessages(threadId)[0]!.message_id;
    await pp.handleIdentify({ sessionId, identity: { id: 'u-1', name: 'Marie Curie', email: 'marie@example.com' } });
    await pp.flushDeliveries();
    expect(fake.topics.get(Number(threadId))?.name).toBe('Marie Curie');
    const card = fake.message(cardId)!;
    expect(card.edited).toBe(true);
    expect(card.visible).toContain('Name: Marie Curie');
    expect(card.visible).toContain('Email: marie@example.com');
    expect(fake.topicMessages(threadId).filter((m) => m.visible.includes('Page:'))).toHaveLength(1);
  });

  it('custom templates shape the card and the visitor messages', async () => {
    const { fake, openTopic } = await setup({
      bridge: { messageTemplate: '💬 {text} <i>({page})</i>', sessionTemplate: '<b>{title}</b> {fields}' },
    });
    const { threadId } = await openTopic('hi <there>');
    const [card, message] = fake.topicMessages(threadId);
    expect(card!.visible).toMatch(/^Visitor \w+ · shop\.example\.com\/cart Page: /);
    expect(message!.visible).toBe('💬 hi <there> (https://shop.example.com/cart)');
  });
});

describe('visitor messages', () => {
  it('visitor text cannot inject markup: it shows literally', async () => {
    const { fake, pp, send, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    await send(sessionId, '<b>not bold</b> & <script>alert(1)</script> <a href="x">y</a>');
    await pp.flushDeliveries();
    const last = fake.topicMessages(threadId).at(-1)!;
    expect(last.visible).toBe('<b>not bold</b> & <script>alert(1)</script> <a href="x">y</a>');
    expect(last.bold).toEqual([]);
    expect(await pp.deadLetters()).toEqual([]);
  });

  it('MarkdownV2 mode escapes every reserved character of visitor text', async () => {
    const { fake, pp, send, openTopic } = await setup({ bridge: { parseMode: 'MarkdownV2' } });
    const { sessionId, threadId } = await openTopic();
    await send(sessionId, 'Price: 5.00 (approx) - *ok*_! [link](x) #1 {a} |b| ~c~ `d` >e =f +g \\h');
    await pp.flushDeliveries();
    expect(fake.topicMessages(threadId).at(-1)!.visible).toBe(
      'Price: 5.00 (approx) - *ok*_! [link](x) #1 {a} |b| ~c~ `d` >e =f +g \\h',
    );
    expect(fake.topicMessages(threadId)[0]!.bold).toContain('Page:');
  });

  it('a reply is posted with reply_parameters pointing at the replied message', async () => {
    const { fake, pp, send, storage, openTopic } = await setup();
    const { sessionId, threadId, firstMessageId } = await openTopic('What sizes do you have?');
    const answer = await pp.sendMessage(sessionId, { content: 'S to XL', operatorName: 'Ana' });
    await pp.flushDeliveries();
    await send(sessionId, 'XL please', { replyTo: answer.id });
    await send(sessionId, 'I mean for the blue one', { replyTo: firstMessageId });
    await pp.flushDeliveries();
    const messages = await storage.getMessages(sessionId);
    const pid = (id: string) => Number(messages.find((m) => m.id === id)!.bridgeMessageIds!.telegram);
    const posted = fake.topicMessages(threadId);
    expect(posted.find((m) => m.visible === 'XL please')!.reply_to).toBe(pid(answer.id));
    expect(posted.find((m) => m.visible === 'I mean for the blue one')!.reply_to).toBe(pid(firstMessageId));
    const sent = fake.callsOf('sendMessage').find((c) => c.params.text === 'XL please')!;
    expect(sent.params.reply_parameters).toMatchObject({ message_id: pid(answer.id) });
  });

  it('disableNotification posts visitor messages silently', async () => {
    const { fake, openTopic } = await setup({ bridge: { disableNotification: true } });
    const { threadId } = await openTopic();
    expect(fake.topicMessages(threadId).every((m) => m.silent)).toBe(true);
  });

  it('an image goes out as a photo with the text as caption, uploaded from the file URL', async () => {
    const { fake, pp, send, upload, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    const attachmentId = await upload(sessionId, { filename: 'shoe.png', mimeType: 'image/png', bytes: PNG });
    await send(sessionId, 'Like this one', { attachmentIds: [attachmentId] });
    await pp.flushDeliveries();
    const photo = fake.topicMessages(threadId).at(-1)!;
    expect(photo.kind).toBe('photo');
    expect(photo.visible).toBe('Like this one');
    expect(photo.file?.url).toBeUndefined();
    expect([...photo.file!.bytes]).toEqual([...PNG]);
  });

  it('other files go out as documents with their name', async () => {
    const { fake, pp, send, upload, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    const attachmentId = await upload(sessionId, { filename: 'invoice.pdf', mimeType: 'application/pdf', bytes: PDF });
    await send(sessionId, '', { attachmentIds: [attachmentId] });
    await pp.flushDeliveries();
    const doc = fake.topicMessages(threadId).at(-1)!;
    expect(doc.kind).toBe('document');
    expect(doc.file!.filename).toBe('invoice.pdf');
    expect(new TextDecoder().decode(doc.file!.bytes)).toBe('%PDF-1.4 invoice bytes');
    expect(doc.visible).toBe('');
  });

  it('a file whose URL nobody can fetch is posted as a link instead of being lost', async () => {
    const { fake, pp, send, upload, openTopic } = await setup({ pocketping: { publicUrl: 'http://127.0.0.1:1/pp' } });
    const { sessionId, threadId } = await openTopic();
    const attachmentId = await upload(sessionId, { filename: 'plan.pdf', mimeType: 'application/pdf', bytes: PDF });
    await send(sessionId, 'see attached', { attachmentIds: [attachmentId] });
    await pp.flushDeliveries();
    const last = fake.topicMessages(threadId).at(-1)!;
    expect(last.visible).toBe('see attached\n📎 plan.pdf');
    expect(last.raw).toContain(`href="http://127.0.0.1:1/pp/files/${attachmentId}/plan.pdf"`);
    expect(await pp.deadLetters()).toEqual([]);
  });

  it('a visitor edit changes the text, and the caption of a file message', async () => {
    const { fake, pp, send, upload, storage, openTopic } = await setup();
    const { sessionId, threadId, firstMessageId } = await openTopic('helo');
    const attachmentId = await upload(sessionId, { filename: 'a.png', mimeType: 'image/png', bytes: PNG });
    const withFile = await send(sessionId, 'old caption', { attachmentIds: [attachmentId] });
    await pp.flushDeliveries();
    await pp.handleEditMessage(firstMessageId, { sessionId, content: 'hello' });
    await pp.handleEditMessage(withFile.messageId, { sessionId, content: 'new caption' });
    await pp.flushDeliveries();
    const messages = await storage.getMessages(sessionId);
    const pid = (id: string) => messages.find((m) => m.id === id)!.bridgeMessageIds!.telegram!;
    expect(fake.message(pid(firstMessageId))).toMatchObject({ visible: 'hello', edited: true });
    expect(fake.message(pid(withFile.messageId))).toMatchObject({
      kind: 'photo',
      visible: 'new caption',
      edited: true,
    });
    expect(fake.topicMessages(threadId).map((m) => m.visible)).not.toContain('helo');
  });

  it('an edit to the same text counts as done ("message is not modified")', async () => {
    const { fake, pp, logger, openTopic } = await setup();
    const { sessionId, firstMessageId } = await openTopic('same words');
    await pp.handleEditMessage(firstMessageId, { sessionId, content: 'same words' });
    await pp.flushDeliveries();
    expect(fake.callsOf('editMessageText')).toHaveLength(1);
    expect(await pp.deadLetters()).toEqual([]);
    expect(logger.lines.filter((l) => l.msg.includes('bridge delivery failed'))).toEqual([]);
  });

  it('an edit of a message removed in Telegram fails once for good instead of looping', async () => {
    const { fake, pp, storage, openTopic } = await setup();
    const { sessionId, firstMessageId } = await openTopic('to be removed');
    const [stored] = await storage.getMessages(sessionId);
    fake.message(stored!.bridgeMessageIds!.telegram!)!.deleted = true;
    await pp.handleEditMessage(firstMessageId, { sessionId, content: 'edited' });
    await pp.flushDeliveries();
    expect(fake.callsOf('editMessageText')).toHaveLength(1);
    const dead = await pp.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ attempts: 1, operation: { type: 'edit' } });
    expect(dead[0]!.lastError).toContain('message to edit not found');
  });

  it('a visitor delete removes the posted message and every file posted with it', async () => {
    const { fake, pp, send, upload, storage, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    const a = await upload(sessionId, { filename: 'a.png', mimeType: 'image/png', bytes: PNG });
    const b = await upload(sessionId, { filename: 'b.pdf', mimeType: 'application/pdf', bytes: PDF });
    const sent = await send(sessionId, 'two files', { attachmentIds: [a, b] });
    await pp.flushDeliveries();
    expect(fake.topicMessages(threadId).filter((m) => !m.deleted)).toHaveLength(4);
    await pp.handleDeleteMessage(sent.messageId, { sessionId });
    await pp.flushDeliveries();
    const left = fake.topicMessages(threadId).filter((m) => !m.deleted);
    expect(left.map((m) => m.visible)).toEqual([expect.stringContaining('Page:'), 'Hello, I need help']);
    expect((await storage.getMessages(sessionId)).find((m) => m.id === sent.messageId)!.deletedAt).toBeDefined();
  });

  it('a message the bot may no longer delete is marked as deleted instead', async () => {
    const { fake, pp, storage, openTopic } = await setup();
    const { sessionId, firstMessageId } = await openTopic('secret order number 123');
    const [stored] = await storage.getMessages(sessionId);
    const pid = Number(stored!.bridgeMessageIds!.telegram);
    fake.undeletable.add(pid);
    await pp.handleDeleteMessage(firstMessageId, { sessionId });
    await pp.flushDeliveries();
    expect(fake.message(pid)!.visible).toBe('🗑 Deleted by the visitor');
    expect(await pp.deadLetters()).toEqual([]);
  });

  it('visitor typing shows the typing action in the topic, never before a topic exists', async () => {
    const { fake, pp, connect, openTopic } = await setup();
    const lonely = await connect();
    await pp.handleTyping({ sessionId: lonely, isTyping: true });
    const { sessionId, threadId } = await openTopic();
    await pp.handleTyping({ sessionId, isTyping: true });
    await waitFor(() => fake.callsOf('sendChatAction').length > 0, 'typing action');
    const calls = fake.callsOf('sendChatAction');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.params).toMatchObject({ action: 'typing', message_thread_id: Number(threadId) });
  });
});

describe('operator replies from elsewhere and notices', () => {
  it('a reply from the dashboard is mirrored and attributed', async () => {
    const { fake, pp, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    await pp.sendMessage(sessionId, { content: 'We ship worldwide <3', operatorName: 'Ana' });
    await pp.flushDeliveries();
    const last = fake.topicMessages(threadId).at(-1)!;
    expect(last.visible).toBe('Ana (dashboard): We ship worldwide <3');
    expect(last.bold).toEqual(['Ana (dashboard)']);
  });

  it('a reply written in another bridge is mirrored as "via" that bridge, and its edit keeps the attribution', async () => {
    const slack = new MemoryBridge({ name: 'slack' });
    const { fake, pp, storage, openTopic } = await setup({ extraBridges: [slack] });
    const { sessionId, threadId } = await openTopic();
    const reply = await slack.reply(slack.threadOf(sessionId)!, 'Hello from Slack', { operatorName: 'Bob' });
    await pp.flushDeliveries();
    expect(fake.topicMessages(threadId).at(-1)!.visible).toBe('Bob via Slack: Hello from Slack');
    await slack.editReply(reply.bridgeMessageIds!.slack!, 'Hello again from Slack');
    await pp.flushDeliveries();
    const pid = (await storage.getMessages(sessionId)).find((m) => m.id === reply.id)!.bridgeMessageIds!.telegram!;
    expect(fake.message(pid)!.visible).toBe('Bob via Slack: Hello again from Slack');
  });

  it('a notice is posted silently in the topic, and never opens a topic by itself', async () => {
    const { fake, pp, bridge, storage, connect, openTopic } = await setup();
    const lonely = await connect();
    await bridge.onNotice((await storage.getSession(lonely))!, '📸 Screenshot: https://x.example/s.png');
    expect(fake.callsOf('createForumTopic')).toHaveLength(0);

    const { sessionId, threadId } = await openTopic();
    await pp.handleCsat({ sessionId, score: 5, comment: 'great <service>' });
    await pp.flushDeliveries();
    const notice = fake.topicMessages(threadId).at(-1)!;
    expect(notice.visible).toBe('⭐ 😄 5/5 — "great <service>"');
    expect(notice.silent).toBe(true);
  });
});

describe('closed and deleted topics', () => {
  it('closing the session closes the topic; the visitor writing again reopens it first', async () => {
    const { fake, pp, send, storage, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    await pp.closeSession(sessionId);
    await pp.flushDeliveries();
    expect(fake.topics.get(Number(threadId))!.closed).toBe(true);

    await send(sessionId, 'me again');
    await pp.flushDeliveries();
    expect(fake.topics.get(Number(threadId))!.closed).toBe(false);
    expect(fake.serviceEvents(threadId)).toEqual(['forum_topic_created', 'forum_topic_closed', 'forum_topic_reopened']);
    const reopenedAt = fake.messages.find((m) => m.service === 'forum_topic_reopened')!.message_id;
    const again = fake.topicMessages(threadId).find((m) => m.visible === 'me again')!;
    expect(again.message_id).toBeGreaterThan(reopenedAt);
    expect((await storage.getSession(sessionId))!.status).toBe('open');
  });

  it('after a restart, a topic an admin closed meanwhile is reopened when the visitor writes', async () => {
    const { fake, pp, storage, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    await pp.close();
    fake.topics.get(Number(threadId))!.closed = true;
    const bridge = new TelegramBridge({
      token: fake.token,
      chatId: fake.chat.id,
      apiRoot: fake.apiRoot,
      updates: 'polling',
    });
    const restarted = new PocketPing({ storage, bridges: [bridge], logger: silentLogger });
    onTestFinished(() => restarted.close());
    await restarted.init();
    await restarted.handleMessage({ sessionId, content: 'hello after restart', attachmentIds: [] });
    await restarted.flushDeliveries();
    expect(fake.topics.get(Number(threadId))!.closed).toBe(false);
    expect(fake.topicMessages(threadId).at(-1)!.visible).toBe('hello after restart');
    expect(fake.callsOf('createForumTopic')).toHaveLength(1);
  });

  it('a topic deleted by an admin is replaced by a new one, with a card, and operators can answer there', async () => {
    const { fake, pp, send, storage, frames, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    fake.deleteTopic(threadId);
    await send(sessionId, 'hello?');
    await pp.flushDeliveries();
    const fresh = (await storage.getSession(sessionId))!.bridgeThreads!.telegram!;
    expect(fresh).not.toBe(threadId);
    expect(fake.topics.get(Number(fresh))!.deleted).toBe(false);
    const posted = fake.topicMessages(fresh);
    expect(posted[0]!.visible).toContain('Page:');
    expect(posted[1]!.visible).toBe('hello?');
    const [, sent] = await storage.getMessages(sessionId);
    expect(sent!.bridgeMessageIds!.telegram).toBe(String(posted[1]!.message_id));

    const seen = frames(sessionId);
    await fake.operatorSays(fresh, 'Here in the new topic');
    await waitFor(() =>
      seen.some((f) => f.event.type === 'message' && f.event.data.content === 'Here in the new topic'),
    );
  });

  it('erasing the session deletes its topic and the stored session; erasing again changes nothing', async () => {
    const { fake, pp, storage, logger, openTopic } = await setup();
    const { sessionId, threadId } = await openTopic();
    expect(await pp.eraseSession(sessionId)).toBe(true);
    expect(fake.topics.get(Number(threadId))!.deleted).toBe(true);
    expect(fake.topicMessages(threadId).every((m) => m.deleted)).toBe(true);
    expect(await storage.getSession(sessionId)).toBeNull();

    expect(await pp.eraseSession(sessionId)).toBe(false);
    expect(fake.callsOf('deleteForumTopic')).toHaveLength(1);
    expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });
});
