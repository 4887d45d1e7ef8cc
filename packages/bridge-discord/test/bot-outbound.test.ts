import { afterEach, describe, expect, it } from 'vitest';
import { FakeDiscord } from './fake-discord.js';
import { type Harness, startHarness, waitFor } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const live = (discord: FakeDiscord, channelId: string) => discord.channelMessages(channelId).filter((m) => !m.deleted);

describe('bot mode, visitor → Discord', () => {
  it('opens one thread per session on the first message only, started from the session card', async () => {
    h = await startHarness();
    const { discord, pp } = h;
    const sessionId = await h.connect();
    await pp.flushDeliveries();
    expect(discord.threads()).toHaveLength(0);

    await h.send(sessionId, 'first');
    await h.send(sessionId, 'second');
    await pp.flushDeliveries();

    const threads = discord.threads();
    expect(threads).toHaveLength(1);
    const threadId = threads[0]!.id;
    expect(await h.threadOf(sessionId)).toBe(threadId);
    expect(threads[0]!.name).toContain('shop.example.com/cart');

    // The card sits in the channel and the thread starts from it (same id).
    const [card] = live(discord, discord.channelId);
    expect(card!.id).toBe(threadId);
    const fields = Object.fromEntries(card!.embeds[0]!.fields!.map((f) => [f.name, f.value]));
    expect(fields.Page).toBe('https://shop.example.com/cart');
    expect(fields.Session).toBe(sessionId);

    expect(live(discord, threadId).map((m) => m.content)).toEqual(['first', 'second']);
  });

  it('in a forum channel, each session is a post whose first message is the card', async () => {
    h = await startHarness({ fake: { channelType: 15 } });
    const sessionId = await h.connect();
    await h.send(sessionId, 'hello from the forum');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    const posts = live(h.discord, threadId);
    expect(posts[0]!.embeds[0]!.title).toContain('Visitor');
    expect(posts[1]!.content).toBe('hello from the forum');
  });

  it('visitor text cannot ping anyone', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, '@everyone look <@&123456789012345678>');
    await h.pp.flushDeliveries();
    const [posted] = live(h.discord, (await h.threadOf(sessionId))!);
    expect(posted!.content).toContain('@everyone');
    expect(posted!.allowed_mentions).toEqual({ parse: [] });
  });

  it('a visitor reply points at the Discord message it answers', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    const first = await h.send(sessionId, 'Do you ship to Canada?');
    await h.pp.flushDeliveries();
    await h.send(sessionId, 'I mean Quebec', { replyTo: first });
    await h.pp.flushDeliveries();
    const [question, reply] = live(h.discord, (await h.threadOf(sessionId))!);
    expect(reply!.message_reference?.message_id).toBe(question!.id);
  });

  it('text longer than Discord allows in one message is posted whole, as an embed', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    const long = `${'a'.repeat(2500)} end`;
    await h.send(sessionId, long);
    await h.pp.flushDeliveries();
    const [posted] = live(h.discord, (await h.threadOf(sessionId))!);
    expect(FakeDiscord.textOf(posted!)).toContain(long);
  });

  it('visitor files are uploaded to the thread with their bytes', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    const bytes = Buffer.from('%PDF-1.4 invoice');
    const att = await h.pp.storeFile(
      sessionId,
      { filename: 'invoice.pdf', mimeType: 'application/pdf', data: bytes },
      'visitor',
    );
    await h.send(sessionId, 'here is the invoice', { attachmentIds: [att.id] });
    await h.pp.flushDeliveries();
    const [posted] = live(h.discord, (await h.threadOf(sessionId))!);
    expect(posted!.content).toBe('here is the invoice');
    expect(posted!.attachments.map((a) => a.filename)).toEqual(['invoice.pdf']);
    expect(Object.values(posted!.files)[0]!.equals(bytes)).toBe(true);
  });

  it('files over maxFileBytes are linked instead, and the link survives an edit', async () => {
    h = await startHarness({
      bridge: (d) => ({ botToken: d.token, channelId: d.channelId, apiUrl: d.apiUrl, maxFileBytes: 8 }),
    });
    const sessionId = await h.connect();
    const att = await h.pp.storeFile(
      sessionId,
      { filename: 'big.png', mimeType: 'image/png', data: Buffer.alloc(64, 1) },
      'visitor',
    );
    const messageId = await h.send(sessionId, 'screenshot', { attachmentIds: [att.id] });
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    const [posted] = live(h.discord, threadId);
    expect(posted!.attachments).toHaveLength(0);
    expect(posted!.content).toContain(att.url);

    await h.pp.handleEditMessage(messageId, { sessionId, content: 'screenshot of the bug' });
    await h.pp.flushDeliveries();
    expect(live(h.discord, threadId)[0]!.content).toContain('screenshot of the bug');
    expect(live(h.discord, threadId)[0]!.content).toContain(att.url);
  });

  it('operator replies from elsewhere are mirrored with who wrote them and where', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'hi');
    await h.pp.flushDeliveries();
    await h.pp.sendMessage(sessionId, { content: 'Hello!', operatorName: 'Ana', sourceBridge: 'telegram' });
    await h.pp.sendMessage(sessionId, { content: 'From the inbox', operatorName: 'Bo' });
    await h.pp.flushDeliveries();
    const texts = live(h.discord, (await h.threadOf(sessionId))!).map((m) => m.content);
    expect(texts).toEqual(['hi', '**Ana via Telegram**: Hello!', '**Bo**: From the inbox']);
  });

  it('an identity renames the thread and updates the card', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'hi');
    await h.pp.flushDeliveries();
    await h.pp.handleIdentify({ sessionId, identity: { id: 'u1', name: 'Grace Hopper', email: 'grace@example.com' } });
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    expect(h.discord.channels.get(threadId)!.name).toBe('Grace Hopper');
    const card = live(h.discord, h.discord.channelId).find((m) => m.id === threadId)!;
    expect(card.embeds[0]!.title).toBe('Grace Hopper');
    expect(card.embeds[0]!.fields!.some((f) => f.value === 'grace@example.com')).toBe(true);
  });

  it('closing the session archives the thread; the next visitor message unarchives it', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'thanks, bye');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    await h.pp.closeSession(sessionId);
    await h.pp.flushDeliveries();
    expect(h.discord.channels.get(threadId)!.thread_metadata!.archived).toBe(true);

    await h.send(sessionId, 'one more thing');
    await h.pp.flushDeliveries();
    expect(h.discord.channels.get(threadId)!.thread_metadata!.archived).toBe(false);
    expect(live(h.discord, threadId).map((m) => m.content)).toEqual(['thanks, bye', 'one more thing']);
    expect(h.discord.threads()).toHaveLength(1);
  });

  it('a thread Discord archived for inactivity is unarchived and the message still arrives', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'monday');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    h.discord.archive(threadId);

    await h.send(sessionId, 'a week later');
    await h.pp.flushDeliveries();
    expect(live(h.discord, threadId).map((m) => m.content)).toEqual(['monday', 'a week later']);
    expect(h.discord.channels.get(threadId)!.thread_metadata!.archived).toBe(false);
    expect(await h.pp.deadLetters()).toHaveLength(0);
  });

  it('a thread deleted in Discord is replaced by a new one', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'before');
    await h.pp.flushDeliveries();
    const oldThread = (await h.threadOf(sessionId))!;
    h.discord.channels.delete(oldThread);

    await h.send(sessionId, 'after');
    await h.pp.flushDeliveries();
    const newThread = (await h.threadOf(sessionId))!;
    expect(newThread).not.toBe(oldThread);
    expect(live(h.discord, newThread).map((m) => m.content)).toEqual(['after']);
  });

  it('erasing the session deletes its thread and card and the stored session; erasing again changes nothing', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'please forget me');
    await h.pp.flushDeliveries();
    const threadId = (await h.threadOf(sessionId))!;
    expect(await h.pp.eraseSession(sessionId)).toBe(true);
    expect(h.discord.channels.has(threadId)).toBe(false);
    expect(live(h.discord, threadId)).toEqual([]);
    expect(live(h.discord, h.discord.channelId)).toEqual([]);
    expect(await h.storage.getSession(sessionId)).toBeNull();

    expect(await h.pp.eraseSession(sessionId)).toBe(false);
    expect(h.discord.requests.filter((r) => r.method === 'DELETE' && r.path === `/channels/${threadId}`)).toHaveLength(
      1,
    );
    expect(h.logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('notices go into an existing thread only', async () => {
    h = await startHarness();
    const quiet = await h.connect();
    await h.pp.handleDisconnect({ sessionId: quiet });
    await h.pp.flushDeliveries();
    expect(h.discord.threads()).toHaveLength(0);

    const sessionId = await h.connect();
    await h.send(sessionId, 'hello');
    await h.pp.flushDeliveries();
    await h.pp.handleDisconnect({ sessionId, duration: 90 });
    await h.pp.flushDeliveries();
    const texts = live(h.discord, (await h.threadOf(sessionId))!).map((m) => m.content);
    expect(texts[1]).toMatch(/^\*.*Visitor left/);
  });

  it('visitor typing shows the bot typing in the thread', async () => {
    h = await startHarness();
    const sessionId = await h.connect();
    await h.send(sessionId, 'hello');
    await h.pp.flushDeliveries();
    await h.pp.handleTyping({ sessionId, isTyping: true });
    const threadId = (await h.threadOf(sessionId))!;
    await waitFor(() => h!.discord.typing.includes(threadId));
  });
});
