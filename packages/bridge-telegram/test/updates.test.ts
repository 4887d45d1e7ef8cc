import { describe, expect, it } from 'vitest';
import { TelegramBridge } from '../src/index.js';
import { setup, waitFor } from './helpers.js';

describe('webhook mode', () => {
  it('registers the webhook at {publicUrl}/webhooks/telegram with a generated secret', async () => {
    const { fake, app, bridge } = await setup();
    expect(bridge.webhook?.path).toBe('telegram');
    expect(fake.webhook?.url).toBe(`${app.url}/webhooks/telegram`);
    expect(fake.webhook?.secret).toMatch(/^[A-Za-z0-9_-]{32,256}$/);
    expect(fake.webhook?.allowedUpdates).toEqual(['message', 'edited_message']);
    expect(fake.callsOf('getUpdates')).toHaveLength(0);
  });

  it('lists /close, /info and /delete in the group command menu', async () => {
    const { fake } = await setup();
    expect(fake.commands.map((c) => c.command)).toEqual(['close', 'info', 'delete']);
    expect(fake.callsOf('setMyCommands')[0]!.params.scope).toEqual({ type: 'chat', chat_id: fake.chat.id });
  });

  it('uses the configured secret, and a bridge name as the webhook path', async () => {
    const { fake, app, bridge } = await setup({ bridge: { webhookSecret: 'my_secret-1', name: 'tg-support' } });
    expect(bridge.webhook?.path).toBe('tg-support');
    expect(fake.webhook).toMatchObject({ url: `${app.url}/webhooks/tg-support`, secret: 'my_secret-1' });
  });

  it('webhookUrl replaces the URL built from publicUrl', async () => {
    const { fake } = await setup({ bridge: { webhookUrl: 'https://proxy.example.com/tg-hook' } });
    expect(fake.webhook?.url).toBe('https://proxy.example.com/tg-hook');
  });

  it('requests without the right secret header get 401 and are not applied', async () => {
    const { fake, storage, openTopic } = await setup({ bridge: { webhookSecret: 'right_secret' } });
    const { sessionId, threadId } = await openTopic();
    const update = {
      update_id: 1,
      message: {
        ...fake.toTelegram((await fake.topicMessages(threadId))[1]!),
        from: { id: 42, is_bot: false, first_name: 'Mallory' },
        text: 'forged',
      },
    };
    const attempts: Record<string, string>[] = [
      {},
      { 'x-telegram-bot-api-secret-token': 'wrong_secret' },
      { 'x-telegram-bot-api-secret-token': 'right_secre' },
    ];
    for (const headers of attempts) {
      const res = await fetch(fake.webhook!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(update),
      });
      expect(res.status).toBe(401);
    }
    await fake.userWrites(threadId, { text: 'sentinel' });
    await waitFor(async () => (await storage.getMessages(sessionId)).some((m) => m.content === 'sentinel'), 'sentinel');
    expect((await storage.getMessages(sessionId)).map((m) => m.content)).not.toContain('forged');
    expect(fake.webhookAnswers).toEqual([200]);
  });

  it('answers 405 to other methods and 400 to a body that is not an update', async () => {
    const { bridge } = await setup({ bridge: { webhookSecret: 'right_secret' } });
    const headers = { 'x-telegram-bot-api-secret-token': 'right_secret' };
    const get = await bridge.webhook!.handle({ method: 'GET', headers, rawBody: '', body: undefined, query: {} });
    expect(get.status).toBe(405);
    const junk = await bridge.webhook!.handle({
      method: 'POST',
      headers,
      rawBody: '{"hello":1}',
      body: { hello: 1 },
      query: {},
    });
    expect(junk.status).toBe(400);
    const raw = await bridge.webhook!.handle({
      method: 'POST',
      headers,
      rawBody: '{"update_id":5}',
      body: undefined,
      query: {},
    });
    expect(raw.status).toBe(200);
  });

  it('a stopped bridge answers 503 so Telegram delivers the update again later', async () => {
    const { bridge } = await setup({ bridge: { webhookSecret: 'right_secret' } });
    await bridge.close();
    const res = await bridge.webhook!.handle({
      method: 'POST',
      headers: { 'x-telegram-bot-api-secret-token': 'right_secret' },
      rawBody: '{"update_id":5}',
      body: { update_id: 5 },
      query: {},
    });
    expect(res.status).toBe(503);
  });

  it('without a public URL it warns how to fix it and registers nothing', async () => {
    const { fake, logger } = await setup({ noPublicUrl: true });
    expect(fake.callsOf('setWebhook')).toHaveLength(0);
    const warning = logger.lines.find((l) => l.level === 'warn' && l.msg.includes('webhook'));
    expect(warning?.msg).toContain('server.publicUrl');
    expect(warning?.msg).toContain("updates: 'polling'");
  });
});

describe('polling mode', () => {
  it('deletes a webhook first, then polls; no webhook route is exposed', async () => {
    const { FakeTelegram } = await import('./fake-telegram.js');
    const fake = await FakeTelegram.start();
    fake.webhook = { url: 'https://old.example.com/hook' };
    const bridge = new TelegramBridge({
      token: fake.token,
      chatId: fake.chat.id,
      apiRoot: fake.apiRoot,
      updates: 'polling',
    });
    expect(bridge.webhook).toBeUndefined();
    const { PocketPing, silentLogger } = await import('@pocketping/core');
    const pp = new PocketPing({ bridges: [bridge], logger: silentLogger });
    try {
      await pp.init();
      // Polling starts on the lease holder right after init (here the only instance).
      await waitFor(() => fake.callsOf('getUpdates').length > 0, 'first poll');
      expect(fake.webhook).toBeUndefined();
      const methods = fake.calls.map((c) => c.method);
      expect(methods.indexOf('deleteWebhook')).toBeGreaterThan(-1);
      expect(methods.indexOf('deleteWebhook')).toBeLessThan(methods.indexOf('getUpdates'));
      expect(fake.callsOf('getUpdates')[0]!.params.allowed_updates).toEqual(['message', 'edited_message']);
    } finally {
      await pp.close();
      await fake.close();
    }
  });

  it('close stops polling and confirms the last update; closing twice is fine', async () => {
    const { fake, bridge, storage, openTopic } = await setup({ updates: 'polling' });
    const { sessionId, threadId } = await openTopic();
    await fake.userWrites(threadId, { text: 'before close' });
    await waitFor(
      async () => (await storage.getMessages(sessionId)).some((m) => m.content === 'before close'),
      'reply',
    );
    await bridge.close();
    await bridge.close();
    const polls = fake.callsOf('getUpdates');
    const confirmed = Number(fake.delivered.at(-1)!.update_id) + 1;
    expect(polls.at(-1)!.params.offset).toBe(confirmed);
  });
});
