import { generateKeyPairSync, sign } from 'node:crypto';
import type { BridgeWebhookRequest } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { DiscordBridge } from '../src/index.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
// The raw 32-byte key is the tail of its DER SPKI encoding, the form the Developer Portal shows (hex).
const publicKeyHex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');

function signed(body: unknown, options: { timestamp?: string; key?: typeof privateKey } = {}): BridgeWebhookRequest {
  const rawBody = JSON.stringify(body);
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(timestamp + rawBody), options.key ?? privateKey).toString('hex');
  return {
    method: 'POST',
    headers: { 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp },
    rawBody,
    body,
    query: {},
  };
}

const bridge = DiscordBridge.bot('token', '123456789012345678', { publicKey: publicKeyHex });

describe('interactions endpoint', () => {
  it('is served at webhooks/discord only when publicKey is configured', () => {
    expect(bridge.webhook?.path).toBe('discord');
    expect(DiscordBridge.bot('token', '123456789012345678').webhook).toBeUndefined();
  });

  it('answers a signed PING with PONG', async () => {
    expect(await bridge.webhook!.handle(signed({ type: 1 }))).toEqual({ status: 200, body: { type: 1 } });
  });

  it('rejects a request signed with another key', async () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    expect((await bridge.webhook!.handle(signed({ type: 1 }, { key: other }))).status).toBe(401);
  });

  it('rejects a body changed after signing', async () => {
    const request = signed({ type: 1 });
    const res = await bridge.webhook!.handle({ ...request, rawBody: request.rawBody.replace('1', '2') });
    expect(res.status).toBe(401);
  });

  it('rejects a request without signature headers', async () => {
    const request = signed({ type: 1 });
    expect((await bridge.webhook!.handle({ ...request, headers: {} })).status).toBe(401);
  });

  it('answers other interactions with a short ephemeral message', async () => {
    const res = await bridge.webhook!.handle(signed({ type: 2, data: { name: 'close' } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: 4, data: { flags: 64, content: expect.stringContaining('thread') } });
  });
});
