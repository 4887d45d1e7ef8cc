import { describe, expect, it } from 'vitest';
import { ANA, BOT_USER, OTHER_BOT } from './fake-telegram.js';
import { setup, waitFor } from './helpers.js';

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 9, 8, 7, 6, 5]);

async function storedOperatorMessages(storage: { getMessages(id: string): Promise<{ sender: string }[]> }, id: string) {
  return (await storage.getMessages(id)).filter((m) => m.sender === 'operator');
}

describe.each(['webhook', 'polling'] as const)('operator side by %s', (updates) => {
  it('a message in the topic reaches the widget with the operator name', async () => {
    const { fake, storage, frames, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    const seen = frames(sessionId);
    const written = await fake.userWrites(threadId, { text: 'Hi, I am Ana. How can I help?' });
    await waitFor(
      () => seen.some((f) => f.event.type === 'message' && f.event.data.sender === 'operator'),
      'widget frame',
    );
    const [reply] = await storage.getMessages(sessionId).then((l) => l.filter((m) => m.sender === 'operator'));
    expect(reply).toMatchObject({
      content: 'Hi, I am Ana. How can I help?',
      operatorName: 'Ana',
      source: 'telegram',
      bridgeMessageIds: { telegram: String(written.message_id) },
    });
    expect(reply!.replyTo).toBeUndefined();
  });

  it('a Telegram reply to a visitor message becomes a reply in the widget', async () => {
    const { fake, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId, firstMessageId } = await openTopic('Is this in stock?');
    const [visitor] = await storage.getMessages(sessionId);
    await fake.userWrites(threadId, { text: 'Yes, it is', replyTo: Number(visitor!.bridgeMessageIds!.telegram) });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length === 1, 'operator reply stored');
    const [reply] = (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
    expect(reply!.replyTo).toBe(firstMessageId);
  });

  it('an edit in Telegram edits the message in the widget', async () => {
    const { fake, storage, frames, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    const written = await fake.userWrites(threadId, { text: 'We open at 9' });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length === 1, 'reply stored');
    const seen = frames(sessionId);
    await fake.userEdits(written.message_id, 'We open at 10');
    await waitFor(() => seen.some((f) => f.event.type === 'message_edited'), 'edit frame');
    const [reply] = (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
    expect(reply).toMatchObject({ content: 'We open at 10' });
    expect(reply!.editedAt).toBeDefined();
  });

  it('a photo sent by the operator reaches the widget as an attachment with the caption', async () => {
    const { fake, pp, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    await fake.userWrites(threadId, { photo: { bytes: JPEG }, caption: 'Here is the label' });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length === 1, 'photo stored');
    const [reply] = (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
    expect(reply!.content).toBe('Here is the label');
    const [attachment] = reply!.attachments!;
    expect(attachment).toMatchObject({ mimeType: 'image/jpeg', size: JPEG.byteLength, status: 'ready' });
    const read = await pp.readAttachment(attachment!.id);
    expect([...(read!.data as Uint8Array)]).toEqual([...JPEG]);
  });

  it('a document sent by the operator keeps its name and type', async () => {
    const { fake, pp, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    const bytes = new TextEncoder().encode('order,total\n1,20\n');
    await fake.userWrites(threadId, { document: { bytes, filename: 'orders.csv', mimeType: 'text/csv' } });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length === 1, 'document stored');
    const [reply] = (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
    expect(reply!.attachments![0]).toMatchObject({ filename: 'orders.csv', mimeType: 'text/csv' });
    const read = await pp.readAttachment(reply!.attachments![0]!.id);
    expect(new TextDecoder().decode(read!.data as Uint8Array)).toBe('order,total\n1,20\n');
  });

  it('the same update delivered twice is applied once', async () => {
    const { fake, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    const written = await fake.userWrites(threadId, { text: 'first' });
    // A message of its own (a new message_id) whose update arrives twice with the same update_id.
    const update = {
      update_id: 777_001,
      message: fake.toTelegram({
        ...written,
        message_id: written.message_id + 1000,
        raw: 'only once',
        visible: 'only once',
      }),
    };
    await fake.deliverAll([update, update]);
    await fake.userWrites(threadId, { text: 'sentinel' });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length >= 2, 'sentinel stored');
    const contents = (await storage.getMessages(sessionId))
      .filter((m) => m.sender === 'operator')
      .map((m) => m.content);
    expect(contents).toEqual(['first', 'only once', 'sentinel']);
  });

  it('messages from bots and from outside the session topics are ignored', async () => {
    const { fake, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    const other = await openTopic('another visitor');
    fake.topics.set(9999, { threadId: 9999, name: 'Team chat', closed: false, deleted: false });
    await fake.userWrites(threadId, { text: 'I am a bot', from: OTHER_BOT });
    await fake.userWrites(threadId, { text: 'I am this bot', from: BOT_USER });
    await fake.userWrites(9999, { text: 'lunch?' });
    await fake.deliver({
      message: {
        message_id: 1,
        date: 1,
        chat: { id: fake.chat.id, type: 'supergroup', title: 'Support' },
        from: ANA,
        text: 'general topic',
      },
    });
    await fake.deliver({
      message: { message_id: 2, date: 1, chat: { id: 99, type: 'private' }, from: ANA, text: 'private' },
    });
    await fake.userWrites(threadId, { text: 'sentinel' });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length >= 1, 'sentinel stored');
    const contents = (await storage.getMessages(sessionId))
      .filter((m) => m.sender === 'operator')
      .map((m) => m.content);
    expect(contents).toEqual(['sentinel']);
    expect(await storedOperatorMessages(storage, other.sessionId)).toEqual([]);
  });

  it('/close closes the session and the topic', async () => {
    const { fake, pp, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    await fake.userWrites(threadId, { text: '/close' });
    await waitFor(async () => (await storage.getSession(sessionId))!.status === 'closed', 'session closed');
    await pp.flushDeliveries();
    expect(fake.topics.get(Number(threadId))!.closed).toBe(true);
    expect(await storedOperatorMessages(storage, sessionId)).toEqual([]);
  });

  it('/info posts the session card again', async () => {
    const { fake, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    await fake.userWrites(threadId, { text: `/info@${BOT_USER.username}` });
    await waitFor(
      () => fake.topicMessages(threadId).filter((m) => m.visible.includes('Page:')).length === 2,
      'second card',
    );
    expect(fake.topicMessages(threadId).at(-1)!.visible).toContain(`Session: ${sessionId}`);
    expect(await storedOperatorMessages(storage, sessionId)).toEqual([]);
  });

  it('/delete as a reply removes that answer from the widget and from the topic', async () => {
    const { fake, storage, frames, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    const answer = await fake.userWrites(threadId, { text: 'wrong customer, sorry' });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length === 1, 'reply stored');
    const seen = frames(sessionId);
    const command = await fake.userWrites(threadId, { text: '/delete', replyTo: answer.message_id });
    await waitFor(() => seen.some((f) => f.event.type === 'message_deleted'), 'delete frame');
    const [reply] = (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
    expect(reply!.deletedAt).toBeDefined();
    await waitFor(() => fake.message(command.message_id)!.deleted, 'command removed');
    expect(fake.message(answer.message_id)!.deleted).toBe(true);
  });

  it('a person closing the topic in Telegram closes the session', async () => {
    const { fake, storage, openTopic } = await setup({ updates });
    const { sessionId, threadId } = await openTopic();
    await fake.userClosesTopic(Number(threadId));
    await waitFor(async () => (await storage.getSession(sessionId))!.status === 'closed', 'session closed');
  });
});

describe('operator side problems are reported in the topic', () => {
  it('/delete without a reply explains how to use it', async () => {
    const { fake, openTopic } = await setup();
    const { threadId } = await openTopic();
    const command = await fake.userWrites(threadId, { text: '/delete' });
    await waitFor(() => fake.topicMessages(threadId).some((m) => m.reply_to === command.message_id), 'hint');
    expect(fake.topicMessages(threadId).at(-1)!.visible).toContain('Reply /delete to one of your answers');
  });

  it('a file too large for the server is reported, and the caption still reaches the visitor', async () => {
    const { fake, storage, openTopic } = await setup({ pocketping: { maxAttachmentSize: 4 } });
    const { sessionId, threadId } = await openTopic();
    const sent = await fake.userWrites(threadId, { photo: { bytes: JPEG }, caption: 'see photo' });
    await waitFor(async () => (await storedOperatorMessages(storage, sessionId)).length === 1, 'caption stored');
    const [reply] = (await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator');
    expect(reply!.content).toBe('see photo');
    expect(reply!.attachments ?? []).toEqual([]);
    const warning = fake.topicMessages(threadId).find((m) => m.reply_to === sent.message_id)!;
    expect(warning.visible).toMatch(/^⚠️ The file was not forwarded to the visitor: .*4 bytes/);
  });
});
