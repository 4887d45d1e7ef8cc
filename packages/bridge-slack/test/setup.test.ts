import { type Logger, SetupError, ValidationError } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { createBridgeFromConfig, SlackBridge } from '../src/index.js';
import { botOptions, startFake } from './helpers.js';

async function guideOf(bridge: SlackBridge): Promise<SetupError> {
  const err = await bridge.check().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SetupError);
  const setup = err as SetupError;
  expect(setup.code).toBe('SETUP_INVALID');
  expect(setup.component).toBe('Slack');
  expect(setup.formattedGuide()).toContain('How to fix it:');
  return setup;
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug() {},
    info(_o, msg) {
      lines.push(`info ${msg}`);
    },
    warn(_o, msg) {
      lines.push(`warn ${msg}`);
    },
    error(_o, msg) {
      lines.push(`error ${msg}`);
    },
  };
}

describe('SlackBridge setup checks', () => {
  it('a correct bot setup passes check()', async () => {
    const fake = await startFake();
    await new SlackBridge(botOptions(fake)).check();
    expect(fake.callsOf('auth.test')).toHaveLength(1);
    expect(fake.callsOf('conversations.info')[0]!.args).toMatchObject({ channel: fake.channelId });
  });

  it('missing token, channel or signing secret each get their own guide', async () => {
    const fake = await startFake();
    const noToken = await guideOf(new SlackBridge({ ...botOptions(fake), botToken: '' }));
    expect(noToken.problem).toMatch(/botToken is missing/);
    expect(noToken.formattedGuide()).toMatch(/Bot User OAuth Token/);
    const noChannel = await guideOf(new SlackBridge({ ...botOptions(fake), channelId: undefined }));
    expect(noChannel.problem).toMatch(/channelId is missing/);
    const noSecret = await guideOf(new SlackBridge({ ...botOptions(fake), signingSecret: '  ' }));
    expect(noSecret.problem).toMatch(/signingSecret is missing/);
    expect(noSecret.formattedGuide()).toContain('Signing Secret');
    expect(fake.calls).toHaveLength(0);
  });

  it('a rejected token (invalid_auth) says how to get the right one', async () => {
    const fake = await startFake();
    const err = await guideOf(new SlackBridge({ ...botOptions(fake), botToken: 'xoxb-wrong' }));
    expect(err.problem).toBe('Slack rejected the bot token (invalid_auth)');
    expect(err.formattedGuide()).toContain('xoxb-');
  });

  it('a bot that is not in the channel is told to /invite the app', async () => {
    const fake = await startFake();
    fake.channels.get(fake.channelId)!.is_member = false;
    const err = await guideOf(new SlackBridge(botOptions(fake)));
    expect(err.problem).toBe(`the bot is not a member of channel ${fake.channelId}`);
    expect(err.formattedGuide()).toContain('/invite @app');

    fake.failNext('conversations.info', { error: 'not_in_channel' });
    fake.channels.get(fake.channelId)!.is_member = true;
    const again = await guideOf(new SlackBridge(botOptions(fake)));
    expect(again.formattedGuide()).toContain('/invite @app');
  });

  it('an unknown channel says where to find the channel ID', async () => {
    const fake = await startFake();
    const err = await guideOf(new SlackBridge(botOptions(fake, { channelId: 'CNOPE' })));
    expect(err.problem).toBe('channel CNOPE was not found');
  });

  it('missing scopes are listed from the x-oauth-scopes header', async () => {
    const fake = await startFake();
    fake.scopes = 'chat:write,users:read';
    const err = await guideOf(new SlackBridge(botOptions(fake)));
    expect(err.problem).toBe('the bot token lacks these scopes: files:read, channels:history');
    expect(err.formattedGuide()).toContain('Reinstall to Workspace');

    fake.channels.get(fake.channelId)!.is_private = true;
    fake.scopes = 'chat:write,users:read,files:read,channels:history';
    const priv = await guideOf(new SlackBridge(botOptions(fake)));
    expect(priv.problem).toBe('the bot token lacks these scopes: groups:history');
  });

  it('missing scopes are read from the needed field of a missing_scope error', async () => {
    const fake = await startFake();
    fake.scopes = null;
    fake.failNext('conversations.info', {
      error: 'missing_scope',
      extra: { needed: 'users:read', provided: 'chat:write' },
    });
    const err = await guideOf(new SlackBridge(botOptions(fake)));
    expect(err.problem).toBe('the bot token lacks these scopes: users:read');
  });

  it('without channels:read the membership check is skipped, not failed', async () => {
    const fake = await startFake();
    fake.failNext('conversations.info', {
      error: 'missing_scope',
      extra: { needed: 'channels:read,groups:read,mpim:read,im:read', provided: 'chat:write' },
    });
    const logger = capture();
    await new SlackBridge(botOptions(fake, { logger })).check();
    expect(logger.lines.join('\n')).toContain('cannot check channel membership');
  });

  it('init fails with the guide, so PocketPing does not start half-configured', async () => {
    const fake = await startFake();
    fake.channels.get(fake.channelId)!.is_member = false;
    const { MemoryStorage, PocketPing, silentLogger } = await import('@pocketping/core');
    const pp = new PocketPing({
      storage: new MemoryStorage(),
      bridges: [new SlackBridge(botOptions(fake))],
      logger: silentLogger,
    });
    const err = await pp.init().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as SetupError).formattedGuide()).toContain('/invite @app');
    await pp.close();
  });

  it('webhook mode check() says what is not possible', async () => {
    const logger = capture();
    await SlackBridge.webhook('https://hooks.slack.com/services/T0/B0/x', { logger }).check();
    expect(logger.lines).toEqual([
      expect.stringMatching(/^warn .*edits, deletes and operator replies .* not possible/),
    ]);
  });

  it('malformed options are a ValidationError naming the key', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ webhookUrl: 'not a url' }, /webhookUrl/],
      [{ botToken: 'xoxb-1', apiUrl: 'ftp://x' }, /apiUrl/],
      [{ botToken: 'xoxb-1', iconEmoji: 'smile' }, /iconEmoji/],
      [{ botToken: 'xoxb-1', colour: 'red' }, /colour/],
      [{ webhookUrl: 'https://hooks.slack.com/services/x', botToken: 'xoxb-1' }, /not both/],
    ];
    for (const [options, key] of cases) {
      const err = (() => {
        try {
          new SlackBridge(options as never);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ValidationError);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((err as Error).message).toMatch(key);
      expect((err as Error).message).toMatch(/^@pocketping\/bridge-slack: invalid options/);
    }
  });

  it('the constructor does no I/O', async () => {
    const fake = await startFake();
    new SlackBridge(botOptions(fake));
    SlackBridge.bot(fake.token, fake.channelId, { signingSecret: 's', apiUrl: fake.apiUrl });
    SlackBridge.webhook(fake.webhookUrl);
    expect(fake.calls).toHaveLength(0);
  });

  it('createBridgeFromConfig builds either mode from YAML keys', async () => {
    const logger = capture();
    const env = { prefix: '/pocketping', logger };
    const bot = createBridgeFromConfig(
      { botToken: 'xoxb-1', channelId: 'C1', signingSecret: 's', name: 'support' },
      env,
    );
    expect(bot).toBeInstanceOf(SlackBridge);
    expect(bot).toMatchObject({ name: 'support', mode: 'bot', webhook: { path: 'support' } });
    const hook = createBridgeFromConfig({ webhookUrl: 'https://hooks.slack.com/services/T/B/x' }, env);
    expect(hook).toMatchObject({ name: 'slack', mode: 'webhook' });
    expect(hook.webhook).toBeUndefined();
    await hook.check!();
    expect(logger.lines).toHaveLength(1);
    expect(() => createBridgeFromConfig({ botToken: 'x', chanelId: 'C1' }, env)).toThrow(/chanelId/);
  });
});
