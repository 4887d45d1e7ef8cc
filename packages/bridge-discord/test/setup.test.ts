import { MemoryStorage, PocketPing, SetupError, silentLogger } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DiscordBridge, type DiscordBridgeOptions, REQUIRED_PERMISSIONS_INTEGER } from '../src/index.js';
import { FakeDiscord, type FakeDiscordOptions, Perm } from './fake-discord.js';
import { recordingLogger, waitFor } from './helpers.js';

const fakes: FakeDiscord[] = [];
const apps: PocketPing[] = [];
afterEach(async () => {
  for (const pp of apps.splice(0)) await pp.close();
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const f = await FakeDiscord.start(options);
  fakes.push(f);
  return f;
}

/** What `pp.init()` throws for this bridge configuration. */
async function initError(options: DiscordBridgeOptions): Promise<SetupError> {
  const pp = new PocketPing({
    storage: new MemoryStorage(),
    bridges: [new DiscordBridge(options)],
    logger: silentLogger,
  });
  apps.push(pp);
  const err = await pp.init().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SetupError);
  return err as SetupError;
}

async function checkError(options: DiscordBridgeOptions): Promise<SetupError> {
  const err = await new DiscordBridge(options).check().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SetupError);
  return err as SetupError;
}

describe('setup guides', () => {
  it('a missing token explains how to create the bot and where the token is', async () => {
    const err = await initError({ botToken: undefined, channelId: '123456789012345678' });
    expect(err.problem).toMatch(/no bot token/);
    const guide = err.formattedGuide();
    expect(guide).toContain('Discord setup required');
    expect(guide).toContain('Reset Token');
    expect(guide).toContain('webhookUrl');
  });

  it('a missing channel says how to copy a channel id', async () => {
    const err = await checkError({ botToken: 'x' });
    expect(err.problem).toMatch(/no channelId/);
    expect(err.formattedGuide()).toContain('Copy Channel ID');
  });

  it('a rejected token is reported by init and by check', async () => {
    const discord = await fake();
    const options = { botToken: 'not-the-token', channelId: discord.channelId, apiUrl: discord.apiUrl };
    for (const err of [await initError(options), await checkError(options)]) {
      expect(err.problem).toMatch(/rejected the bot token \(401/);
      expect(err.formattedGuide()).toContain('Reset Token');
    }
    expect(discord.gatewayConnections).toBe(0);
  });

  it('an unknown channel asks to check the id and invite the bot', async () => {
    const discord = await fake();
    const err = await initError({ botToken: discord.token, channelId: '999999999999999999', apiUrl: discord.apiUrl });
    expect(err.problem).toMatch(/channel 999999999999999999 was not found/);
    expect(err.formattedGuide()).toContain(`permissions=${REQUIRED_PERMISSIONS_INTEGER}`);
  });

  it('a voice channel is refused: conversations need a text or forum channel', async () => {
    const discord = await fake({ channelType: 2 });
    const err = await initError({ botToken: discord.token, channelId: discord.channelId, apiUrl: discord.apiUrl });
    expect(err.problem).toMatch(/GuildVoice channel; conversations need a text or forum channel/);
  });

  it('a missing permission is named, with an invite URL that grants every needed permission', async () => {
    const discord = await fake({ botPermissions: Perm.ViewChannel | Perm.SendMessages | Perm.ReadMessageHistory });
    const err = await initError({ botToken: discord.token, channelId: discord.channelId, apiUrl: discord.apiUrl });
    expect(err.problem).toContain('Manage Threads');
    expect(err.problem).toContain('Create Public Threads');
    expect(err.problem).not.toContain('View Channel');
    expect(err.formattedGuide()).toContain(
      `https://discord.com/oauth2/authorize?client_id=${discord.botUser.id}&scope=bot&permissions=${REQUIRED_PERMISSIONS_INTEGER}`,
    );
    expect(REQUIRED_PERMISSIONS_INTEGER).toBe('326417632256');
  });

  it('init refuses when the application has the Message Content intent off', async () => {
    const discord = await fake({ applicationFlags: 0 });
    const err = await initError({ botToken: discord.token, channelId: discord.channelId, apiUrl: discord.apiUrl });
    expect(err.problem).toMatch(/Message Content intent is not enabled/);
    expect(err.formattedGuide()).toContain('Privileged Gateway Intents');
    expect(discord.requests.some((r) => r.path === '/gateway/bot')).toBe(false);
  });

  it('a Gateway refusal with 4014 (disallowed intents) is logged with the Message Content steps, without retrying', async () => {
    // The Gateway connects after init, on the lease holder: its refusal can only be logged.
    const discord = await fake({ identifyCloseCode: 4014 });
    const logger = recordingLogger();
    const pp = new PocketPing({
      storage: new MemoryStorage(),
      bridges: [new DiscordBridge({ botToken: discord.token, channelId: discord.channelId, apiUrl: discord.apiUrl })],
      logger,
    });
    apps.push(pp);
    await pp.init();
    await waitFor(() => logger.lines.some((l) => l.level === 'error' && /Gateway refused/.test(l.msg)));
    const line = logger.lines.find((l) => /Gateway refused/.test(l.msg))!;
    expect(line.msg).toMatch(/Message Content intent is not enabled/);
    expect(line.msg).toContain('Privileged Gateway Intents');
    // The refused socket is closed, and nothing reconnects.
    await waitFor(() => discord.gatewayConnections === 0);
    expect(discord.requests.filter((r) => r.path === '/gateway/bot')).toHaveLength(1);
  });

  it('check() reads the intent from the application flags without connecting', async () => {
    const discord = await fake({ applicationFlags: 0 });
    const err = await checkError({ botToken: discord.token, channelId: discord.channelId, apiUrl: discord.apiUrl });
    expect(err.problem).toMatch(/Message Content intent/);
    expect(discord.gatewayConnections).toBe(0);
  });

  it('check() passes for a complete setup and opens no Gateway connection', async () => {
    const discord = await fake();
    await new DiscordBridge({ botToken: discord.token, channelId: discord.channelId, apiUrl: discord.apiUrl }).check();
    expect(discord.gatewayConnections).toBe(0);
  });

  it('webhook mode: a deleted webhook gets a guide; check() says what the mode cannot do', async () => {
    const discord = await fake();
    const wrong = discord.webhookUrl.replace(/\/[^/]+$/, `/${'x'.repeat(68)}`);
    const err = await checkError({ webhookUrl: wrong, apiUrl: discord.apiUrl });
    expect(err.problem).toMatch(/rejected the webhook URL \(401\)/);

    const logger = recordingLogger();
    await new DiscordBridge({ webhookUrl: discord.webhookUrl, apiUrl: discord.apiUrl, logger }).check();
    expect(logger.lines.some((l) => l.level === 'warn' && /cannot receive operator replies/.test(l.msg))).toBe(true);
  });
});
