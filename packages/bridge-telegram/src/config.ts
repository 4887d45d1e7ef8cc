import type { AdapterEnvironment, Bridge } from '@pocketping/core';
import { parseOptions } from './options.js';
import { TelegramBridge } from './telegram-bridge.js';

/**
 * Builds the bridge for `pocketping-server` from a `type: telegram` entry of `config.yaml`
 * (the same keys as `new TelegramBridge`). Without `webhookUrl`, the webhook goes to
 * `{env.publicUrl}/webhooks/{name}` when the server's public URL is configured.
 *
 * @example
 * ```yaml
 * bridges:
 *   - type: telegram
 *     token: ${TELEGRAM_BOT_TOKEN}
 *     chatId: ${TELEGRAM_CHAT_ID}
 *     updates: webhook
 * ```
 */
export function createBridgeFromConfig(options: Record<string, unknown>, env: AdapterEnvironment): Bridge {
  const parsed = parseOptions(options, 'telegram bridge options in config.yaml');
  const base = env.publicUrl?.replace(/\/+$/, '');
  const webhookUrl =
    parsed.webhookUrl ?? (parsed.updates === 'webhook' && base ? `${base}/webhooks/${parsed.name}` : undefined);
  return new TelegramBridge({ ...parsed, ...(webhookUrl ? { webhookUrl } : {}) });
}
