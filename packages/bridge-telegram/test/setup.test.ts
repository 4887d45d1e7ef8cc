import { isPocketPingError, PocketPing, SetupError, silentLogger } from '@pocketping/core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createBridgeFromConfig, TelegramBridge, type TelegramBridgeOptions } from '../src/index.js';
import { FakeTelegram, type FakeTelegramOptions } from './fake-telegram.js';
import { recordingLogger } from './helpers.js';

async function fakeWith(options: FakeTelegramOptions = {}) {
  const fake = await FakeTelegram.start(options);
  onTestFinished(() => fake.close());
  return fake;
}

async function setupError(run: () => Promise<unknown>): Promise<SetupError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof SetupError) return err;
    throw err;
  }
  throw new Error('expected a SetupError');
}

/** The failure seen by both `check()` and PocketPing's `init()`, which must agree. */
async function failure(options: TelegramBridgeOptions): Promise<SetupError> {
  const fromCheck = await setupError(() => new TelegramBridge(options).check());
  const pp = new PocketPing({ bridges: [new TelegramBridge(options)], logger: silentLogger });
  onTestFinished(() => pp.close());
  const fromInit = await setupError(() => pp.init());
  expect(fromInit.problem).toBe(fromCheck.problem);
  expect(fromCheck.code).toBe('SETUP_INVALID');
  expect(fromCheck.formattedGuide()).toContain('How to fix it:');
  return fromCheck;
}

describe('setup validation', () => {
  it('a missing token explains how to get one from BotFather', async () => {
    const error = await failure({ chatId: -1001 });
    expect(error.problem).toBe('the bot token is missing');
    expect(error.formattedGuide()).toMatch(/@BotFather[\s\S]*\/newbot/);
    expect(error.formattedGuide()).toContain('TELEGRAM_BOT_TOKEN');
  });

  it('an empty token from an unset environment variable counts as missing', async () => {
    const error = await failure({ token: '  ', chatId: -1001 });
    expect(error.problem).toBe('the bot token is missing');
  });

  it('a malformed token says what a token looks like and what is wrong', async () => {
    const withPrefix = await failure({ token: 'bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', chatId: -1001 });
    expect(withPrefix.problem).toContain('malformed');
    expect(withPrefix.steps[0]).toContain('Remove the leading "bot"');
    const truncated = await failure({ token: '123456:short', chatId: -1001 });
    expect(truncated.formattedGuide()).toContain('/mybots');
  });

  it('a missing chat id explains how to find the group id', async () => {
    const fake = await fakeWith();
    const error = await failure({ token: fake.token, apiRoot: fake.apiRoot });
    expect(error.problem).toBe('the chat id of the forum group is missing');
    expect(error.formattedGuide()).toContain('-100');
    expect(error.formattedGuide()).toContain('@RawDataBot');
  });

  it('a malformed or private chat id is refused before any request', async () => {
    const fake = await fakeWith();
    const words = await failure({ token: fake.token, chatId: 'support group', apiRoot: fake.apiRoot });
    expect(words.problem).toContain('malformed');
    const user = await failure({ token: fake.token, chatId: 12345, apiRoot: fake.apiRoot });
    expect(user.problem).toContain("user's private chat");
    expect(fake.calls).toEqual([]);
  });

  it('a token Telegram rejects (401) says to copy the current one from BotFather', async () => {
    const fake = await fakeWith();
    const error = await failure({
      token: '999999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      chatId: fake.chat.id,
      apiRoot: fake.apiRoot,
    });
    expect(error.problem).toContain('401 Unauthorized');
    expect(error.formattedGuide()).toContain('API Token');
    expect(error.formattedGuide()).not.toContain('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
  });

  it('an unreachable Bot API names the address and never the token', async () => {
    const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
    const error = await failure({ token, chatId: -1001, apiRoot: 'http://127.0.0.1:1' });
    expect(error.problem).toContain('could not be reached');
    expect(error.problem).toContain('http://127.0.0.1:1');
    expect(error.formattedGuide()).not.toContain(token);
  });

  it('a group the bot is not in says to add the bot', async () => {
    const fake = await fakeWith({ botRights: 'absent' });
    const error = await failure({ token: fake.token, chatId: fake.chat.id, apiRoot: fake.apiRoot });
    expect(error.problem).toContain('cannot see the chat');
    expect(error.formattedGuide()).toContain('Add members');
    expect(error.formattedGuide()).toContain('@pocketping_test_bot');
  });

  it('a group without Topics says how to turn them on', async () => {
    const fake = await fakeWith({ chat: { is_forum: false } });
    const error = await failure({ token: fake.token, chatId: fake.chat.id, apiRoot: fake.apiRoot });
    expect(error.problem).toContain('Topics turned off');
    expect(error.formattedGuide()).toMatch(/Turn on "Topics"/);
  });

  it('a basic group is told that turning Topics on changes its id', async () => {
    const fake = await fakeWith({ chat: { id: -4001, type: 'group', is_forum: false } });
    const error = await failure({ token: fake.token, chatId: -4001, apiRoot: fake.apiRoot });
    expect(error.problem).toContain('a basic group');
    expect(error.formattedGuide()).toContain('new id starting with -100');
  });

  it('a bot that is only a member is told how to make it an admin with Manage Topics', async () => {
    const fake = await fakeWith({ botRights: 'member' });
    const error = await failure({ token: fake.token, chatId: fake.chat.id, apiRoot: fake.apiRoot });
    expect(error.problem).toContain('is not an admin');
    expect(error.formattedGuide()).toMatch(/Administrators → Add Admin[\s\S]*"Manage Topics"/);
  });

  it('an admin bot without Manage Topics is told to turn it on', async () => {
    const fake = await fakeWith({ botRights: 'admin-no-topics' });
    const error = await failure({ token: fake.token, chatId: fake.chat.id, apiRoot: fake.apiRoot });
    expect(error.problem).toContain('may not manage topics');
    expect(error.formattedGuide()).toContain('Turn on "Manage Topics"');
  });

  it('a webhook Telegram refuses ends in the HTTPS guide', async () => {
    const fake = await fakeWith();
    fake.failNext('setWebhook', {
      error_code: 400,
      description: 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook',
    });
    const bridge = new TelegramBridge({ token: fake.token, chatId: fake.chat.id, apiRoot: fake.apiRoot });
    const pp = new PocketPing({ bridges: [bridge], logger: silentLogger, publicUrl: 'http://chat.example.com/pp' });
    onTestFinished(() => pp.close());
    const error = await setupError(() => pp.init());
    expect(error.problem).toContain('An HTTPS URL must be provided');
    expect(error.formattedGuide()).toContain("updates: 'polling'");
  });

  it('check() on a good setup passes without registering or polling anything', async () => {
    const fake = await fakeWith({ botRights: 'creator', chat: { username: 'acme_support' } });
    await new TelegramBridge({ token: fake.token, chatId: '@acme_support', apiRoot: fake.apiRoot }).check();
    expect(fake.calls.map((c) => c.method)).toEqual(['getMe', 'getChat', 'getChatMember']);
  });

  it('a bot that may not delete messages starts, with a warning about /delete', async () => {
    const fake = await fakeWith({ botRights: 'admin-no-delete' });
    const logger = recordingLogger();
    const bridge = new TelegramBridge({
      token: fake.token,
      chatId: fake.chat.id,
      apiRoot: fake.apiRoot,
      updates: 'polling',
    });
    const pp = new PocketPing({ bridges: [bridge], logger });
    onTestFinished(() => pp.close());
    await pp.init();
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('Delete Messages'))).toBe(true);
  });
});

describe('options', () => {
  it('invalid options are refused at construction, naming the key', () => {
    const make = (options: Record<string, unknown>) => () => new TelegramBridge(options as TelegramBridgeOptions);
    expect(make({ updates: 'push' })).toThrow(/updates/);
    expect(make({ parseMode: 'Markdown' })).toThrow(/parseMode/);
    expect(make({ webhookSecret: 'has spaces' })).toThrow(/webhookSecret: must be 1-256 characters/);
    expect(make({ apiRoot: 'ftp://x' })).toThrow(/apiRoot/);
    expect(make({ chatID: 1 })).toThrow(/chatID/);
    try {
      make({ rateLimit: { max: 0 } })();
    } catch (err) {
      expect(isPocketPingError(err) && err.code).toBe('CONFIG_INVALID');
      expect(String((err as Error).message)).toContain('@pocketping/bridge-telegram');
    }
  });

  it('constructing does no I/O and keeps the trailing slash off apiRoot', async () => {
    const fake = await fakeWith();
    const bridge = new TelegramBridge({ token: fake.token, chatId: fake.chat.id, apiRoot: `${fake.apiRoot}/` });
    expect(fake.calls).toEqual([]);
    await bridge.check();
    expect(fake.calls.length).toBe(3);
  });

  it('createBridgeFromConfig builds the bridge from YAML keys and points the webhook at the public URL', async () => {
    const fake = await fakeWith();
    const bridge = await createBridgeFromConfig(
      { token: fake.token, chatId: String(fake.chat.id), apiRoot: fake.apiRoot, webhookSecret: 'yaml_secret' },
      { publicUrl: 'https://chat.example.com/pocketping', prefix: '/pocketping', logger: silentLogger },
    );
    expect(bridge.name).toBe('telegram');
    const pp = new PocketPing({ bridges: [bridge], logger: silentLogger });
    onTestFinished(() => pp.close());
    await pp.init();
    expect(fake.webhook).toEqual({
      url: 'https://chat.example.com/pocketping/webhooks/telegram',
      secret: 'yaml_secret',
      allowedUpdates: ['message', 'edited_message'],
    });
  });

  it('createBridgeFromConfig names the YAML key that is wrong', () => {
    expect(() =>
      createBridgeFromConfig({ token: 'x', chatId: 1, updates: 'sometimes' }, { prefix: '/pp', logger: silentLogger }),
    ).toThrow(/config\.yaml: updates/);
  });
});
