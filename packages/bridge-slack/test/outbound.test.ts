import { BridgeError } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { SlackBridge } from '../src/index.js';
import { BOT_ID } from './fake-slack.js';
import { setup } from './helpers.js';

function blockTexts(blocks: Record<string, unknown>[] | undefined): string {
  return JSON.stringify(blocks ?? []);
}

describe('SlackBridge bot mode: visitor → Slack', () => {
  it('the session card opens the thread on the first message, and only then', async () => {
    const { fake, pp, connect, send, threadOf } = await setup();
    const sessionId = await connect();
    await pp.flushDeliveries();
    expect(fake.callsOf('chat.postMessage')).toHaveLength(0);

    await send(sessionId, 'first');
    await send(sessionId, 'second');
    await pp.flushDeliveries();
    await send(sessionId, 'third');
    await pp.flushDeliveries();

    const parents = fake.parents();
    expect(parents).toHaveLength(1);
    const card = parents[0]!;
    expect(await threadOf(sessionId)).toBe(card.ts);
    expect(card.bot_id).toBe(BOT_ID);
    const blocks = blockTexts(card.blocks);
    expect(card.blocks?.[0]).toMatchObject({ type: 'header' });
    expect(blocks).toContain('shop.example.com/cart');
    expect(blocks).toContain(sessionId);
    expect(blocks).toContain('*Language*');
    expect(
      fake
        .thread(card.ts)
        .slice(1)
        .map((m) => m.text),
    ).toEqual(['first', 'second', 'third']);
    expect(
      fake
        .thread(card.ts)
        .slice(1)
        .every((m) => m.thread_ts === card.ts),
    ).toBe(true);
  });

  it('erasing a session deletes the card and the bot posts in its thread', async () => {
    const { fake, pp, connect, send, threadOf } = await setup();
    const sessionId = await connect();
    await send(sessionId, 'please forget me');
    await pp.flushDeliveries();
    const thread = (await threadOf(sessionId))!;
    expect(fake.thread(thread).length).toBeGreaterThanOrEqual(2);
    expect(await pp.eraseSession(sessionId)).toBe(true);
    expect(fake.messages.filter((m) => (m.ts === thread || m.thread_ts === thread) && !m.deleted)).toEqual([]);
  });

  it('visitor text cannot mention or disguise links: & < > are escaped', async () => {
    const { fake, pp, connect, send, threadOf } = await setup();
    const sessionId = await connect();
    await send(sessionId, '<!channel> ping <@U999> & see <https://evil.example|your-bank.com>');
    await pp.flushDeliveries();
    const [, posted] = fake.thread((await threadOf(sessionId))!);
    expect(posted!.text).toBe(
      '&lt;!channel&gt; ping &lt;@U999&gt; &amp; see &lt;https://evil.example|your-bank.com&gt;',
    );
  });

  it('a visitor reply shows the original message as a quote above the text', async () => {
    const { fake, pp, send, conversation } = await setup();
    const { sessionId, thread } = await conversation('Where is my order?');
    const answer = await pp.sendMessage(sessionId, { content: 'It left today.\nTracking <soon>', operatorName: 'Ana' });
    await pp.flushDeliveries();
    await send(sessionId, 'Great, thanks!', { replyTo: answer.id });
    await pp.flushDeliveries();
    const last = fake.thread(thread).at(-1)!;
    expect(last.text).toBe('> It left today.\n> Tracking &lt;soon&gt;\nGreat, thanks!');
  });

  it('operator replies from other sources are mirrored with their author and source', async () => {
    const { fake, pp, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    await pp.sendMessage(sessionId, { content: 'Hi from Telegram', operatorName: 'Ana', sourceBridge: 'telegram' });
    await pp.sendMessage(sessionId, { content: 'Hi from the dashboard', operatorName: 'Bo' });
    await pp.sendMessage(sessionId, { content: 'I am a bot', type: 'ai' });
    await pp.flushDeliveries();
    expect(
      fake
        .thread(thread)
        .slice(2)
        .map((m) => m.text),
    ).toEqual(['*Ana via Telegram*: Hi from Telegram', '*Bo*: Hi from the dashboard', '*AI*: I am a bot']);
  });

  it('visitor edits update the Slack message in place, and deletes remove it', async () => {
    const { fake, pp, send, conversation } = await setup();
    const { sessionId, thread, firstMessageId } = await conversation('helo');
    const second = await send(sessionId, 'delete me');
    await pp.flushDeliveries();
    await pp.handleEditMessage(firstMessageId, { sessionId, content: 'hello <there>' });
    await pp.handleDeleteMessage(second.messageId, { sessionId });
    await pp.flushDeliveries();
    const [, first, removed] = fake.thread(thread);
    expect(first).toMatchObject({ text: 'hello &lt;there&gt;', edited: true });
    expect(removed).toMatchObject({ text: 'delete me', deleted: true });
    expect(fake.callsOf('chat.update')[0]!.args).toMatchObject({ channel: fake.channelId, ts: first!.ts });
  });

  it('an operator mirror edit keeps its attribution', async () => {
    const { fake, pp, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const reply = await pp.sendMessage(sessionId, { content: 'typo', operatorName: 'Ana', sourceBridge: 'telegram' });
    await pp.flushDeliveries();
    await pp.editOperatorMessage(sessionId, reply.id, 'fixed', 'telegram');
    await pp.flushDeliveries();
    expect(fake.thread(thread).at(-1)!.text).toBe('*Ana via Telegram*: fixed');
  });

  it('visitor files are posted as links to the stored attachment', async () => {
    const { fake, pp, send, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    const file = await pp.storeFile(
      sessionId,
      { filename: 'invoice|2024.pdf', mimeType: 'application/pdf', data: new Uint8Array([37, 80, 68, 70]) },
      'visitor',
    );
    await send(sessionId, 'here it is', { attachmentIds: [file.id] });
    await pp.flushDeliveries();
    const text = fake.thread(thread).at(-1)!.text;
    expect(text.split('\n')[0]).toBe('here it is');
    expect(text.split('\n')[1]).toMatch(
      /^📎 <https:\/\/chat\.example\.com\/pocketping\/files\/[^|>]+\|invoice¦2024\.pdf>$/,
    );
  });

  it('an identity update refreshes the session card', async () => {
    const { fake, pp, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    await pp.handleIdentify({ sessionId, identity: { id: 'u-42', name: 'Zoé <Admin>', email: 'zoe@example.com' } });
    await pp.flushDeliveries();
    const card = fake.thread(thread)[0]!;
    expect(card.edited).toBe(true);
    expect(card.blocks?.[0]).toMatchObject({ type: 'header', text: { text: '💬 Zoé <Admin>' } });
    expect(blockTexts(card.blocks)).toContain('zoe@example.com');
    expect(blockTexts(card.blocks)).toContain('Zoé &lt;Admin&gt;');
  });

  it('closing the session and visitor notices post a line in the thread', async () => {
    const { fake, pp, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    await pp.handleDisconnect({ sessionId });
    await pp.closeSession(sessionId);
    await pp.flushDeliveries();
    expect(
      fake
        .thread(thread)
        .slice(2)
        .map((m) => m.text),
    ).toEqual(['ℹ️ 👋 Visitor left', '🔒 Conversation closed']);
  });

  it('a notice for a session without a thread posts nothing', async () => {
    const { fake, pp, storage, connect, bridge } = await setup();
    const sessionId = await connect();
    await bridge.onNotice((await storage.getSession(sessionId))!, 'hello');
    await pp.flushDeliveries();
    expect(fake.callsOf('chat.postMessage')).toHaveLength(0);
  });

  it('posts use the configured username and icon emoji', async () => {
    const { fake, conversation } = await setup({ username: 'Website chat', iconEmoji: ':speech_balloon:' });
    const { thread } = await conversation();
    for (const m of fake.thread(thread))
      expect(m).toMatchObject({ username: 'Website chat', icon_emoji: ':speech_balloon:' });
  });

  it('when the thread parent was deleted in Slack, the next message opens a new thread', async () => {
    const { fake, pp, send, threadOf, conversation } = await setup();
    const { sessionId, thread } = await conversation();
    fake.messages.find((m) => m.ts === thread)!.deleted = true;
    await send(sessionId, 'still there?');
    await pp.flushDeliveries();
    const next = await threadOf(sessionId);
    expect(next).not.toBe(thread);
    expect(
      fake
        .thread(next!)
        .map((m) => m.text)
        .at(-1),
    ).toBe('still there?');
  });

  it('a post to a channel the bot left fails for good, with the /invite hint', async () => {
    const { fake, storage, bridge, conversation } = await setup();
    const { sessionId } = await conversation();
    fake.channels.get(fake.channelId)!.is_member = false;
    const session = (await storage.getSession(sessionId))!;
    const [message] = await storage.getMessages(sessionId);
    const err = await bridge.onVisitorMessage(message!, session, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect(err).toMatchObject({ code: 'BRIDGE_REJECTED', retryable: false, bridge: 'slack' });
    expect((err as Error).message).toMatch(/@pocketping\/bridge-slack: .*not_in_channel.*\/invite/);
  });

  it('two Slack bridges can run side by side under different names', async () => {
    const { fake } = await setup();
    const other = new SlackBridge({
      botToken: fake.token,
      channelId: fake.channelId,
      signingSecret: 's',
      name: 'slack-sales',
    });
    expect(other.webhook?.path).toBe('slack-sales');
  });
});
