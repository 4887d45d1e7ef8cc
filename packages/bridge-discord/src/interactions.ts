import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { BridgeWebhook, BridgeWebhookRequest, BridgeWebhookResponse } from '@pocketping/core';
import { InteractionResponseType, InteractionType, MessageFlags } from 'discord.js';

// An Ed25519 public key in DER SubjectPublicKeyInfo form is this fixed prefix plus the 32 raw
// key bytes; node:crypto imports it that way (it has no raw-key import for Ed25519).
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Imports the application's public key (64 hex characters) for signature checks. */
export function importPublicKey(hex: string): KeyObject {
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]),
    format: 'der',
    type: 'spki',
  });
}

/**
 * True when `signatureHex` is Discord's Ed25519 signature of `timestamp + rawBody`
 * (headers `X-Signature-Ed25519` and `X-Signature-Timestamp`).
 */
export function verifyInteractionSignature(
  key: KeyObject,
  signatureHex: string | undefined,
  timestamp: string | undefined,
  rawBody: string,
): boolean {
  if (!signatureHex || !timestamp || !/^[0-9a-fA-F]{128}$/.test(signatureHex)) return false;
  try {
    return verify(null, Buffer.from(timestamp + rawBody, 'utf8'), key, Buffer.from(signatureHex, 'hex'));
  } catch {
    return false;
  }
}

function ephemeral(content: string): BridgeWebhookResponse {
  return {
    status: 200,
    body: {
      type: InteractionResponseType.ChannelMessageWithSource,
      data: { content, flags: MessageFlags.Ephemeral },
    },
  };
}

/**
 * Discord's Interactions endpoint (set "Interactions Endpoint URL" in the Developer Portal to
 * `{publicUrl}/webhooks/discord`): verifies every request and answers Discord's PING. Operator
 * replies do not come this way; they come through the Gateway.
 */
export function createInteractionsWebhook(publicKeyHex: string, path: string): BridgeWebhook {
  const key = importPublicKey(publicKeyHex);
  return {
    path,
    async handle(request: BridgeWebhookRequest): Promise<BridgeWebhookResponse> {
      const ok = verifyInteractionSignature(
        key,
        request.headers['x-signature-ed25519'],
        request.headers['x-signature-timestamp'],
        request.rawBody,
      );
      if (!ok) return { status: 401, body: { error: 'invalid request signature' } };
      const body = request.body as { type?: unknown } | undefined;
      if (body?.type === InteractionType.Ping) return { status: 200, body: { type: InteractionResponseType.Pong } };
      return ephemeral('PocketPing relays conversations through their threads: reply in a thread to answer a visitor.');
    },
  };
}
