import { silentLogger, ValidationError } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { createBridgeFromConfig, DiscordBridge } from '../src/index.js';

const env = { prefix: '/pocketping', logger: silentLogger };

describe('options and config', () => {
  it('builds a bot-mode bridge from YAML keys', () => {
    const bridge = createBridgeFromConfig({ botToken: 'secret', channelId: '123456789012345678' }, env);
    expect(bridge).toBeInstanceOf(DiscordBridge);
    expect([bridge.name, (bridge as DiscordBridge).mode]).toEqual(['discord', 'bot']);
  });

  it('names an unknown key', () => {
    expect(() => createBridgeFromConfig({ botToken: 'x', channelId: '123456789012345678', chanel: 'x' }, env)).toThrow(
      /chanel/,
    );
  });

  it('refuses both modes at once', () => {
    expect(
      () =>
        new DiscordBridge({
          botToken: 'x',
          channelId: '123456789012345678',
          webhookUrl: `https://discord.com/api/webhooks/1234567/${'a'.repeat(68)}`,
        }),
    ).toThrow(ValidationError);
  });

  it('refuses a webhook URL that is not one, naming the key', () => {
    expect(() => new DiscordBridge({ webhookUrl: 'https://example.com/hook' })).toThrow(/webhookUrl/);
  });

  it('refuses a malformed public key', () => {
    expect(() => DiscordBridge.bot('x', '123456789012345678', { publicKey: 'abc' })).toThrow(/publicKey/);
  });

  it('leaves missing credentials to init/check, so env values can be passed as they are', () => {
    expect(new DiscordBridge({ botToken: undefined, channelId: undefined }).mode).toBe('bot');
  });
});
