import { BridgeError } from '@pocketping/core';
import type { SlackBlock } from './format.js';
import { PACKAGE_NAME } from './options.js';

/** The JSON an incoming webhook accepts (the subset this bridge sends). */
export interface IncomingWebhookPayload {
  text: string;
  blocks?: SlackBlock[];
  username?: string;
  icon_emoji?: string;
}

/**
 * Posts to a Slack incoming webhook. Written with fetch rather than @slack/webhook because that
 * package brings axios for what is one JSON POST; the error mapping below is the part that
 * matters (429 → retry later, 4xx → the webhook is gone or the payload is wrong).
 */
export async function postToIncomingWebhook(
  bridge: string,
  url: string,
  payload: IncomingWebhookPayload,
): Promise<void> {
  const prefix = `${PACKAGE_NAME}: posting to the incoming webhook failed`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new BridgeError(bridge, `${prefix}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const body = (await res.text().catch(() => '')).slice(0, 200);
  if (res.status === 429) {
    const seconds = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
    throw new BridgeError(bridge, `${prefix}: rate limited by Slack`, {
      retryAfterMs: Number.isFinite(seconds) ? seconds * 1000 : 1000,
    });
  }
  const retryable = res.status >= 500;
  // Slack names the problem in the body: invalid_payload, no_service, channel_is_archived, ...
  throw new BridgeError(bridge, `${prefix}: HTTP ${res.status} ${body}`.trim(), {
    retryable,
    code: retryable ? 'BRIDGE_UNAVAILABLE' : 'BRIDGE_REJECTED',
  });
}
