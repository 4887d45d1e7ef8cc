import type { AdapterEnvironment, Bridge } from '@pocketping/core';
import { SlackBridge } from './slack-bridge.js';

/**
 * Builds the bridge for `pocketping-server` from a YAML entry `{ type: slack, ... }` (the keys
 * without `type`): `webhookUrl`, or `botToken`, `channelId` and `signingSecret`, plus `name`,
 * `apiUrl`, `username`, `iconEmoji`. Logs go to the server's logger.
 * @throws ValidationError (`CONFIG_INVALID`) naming the bad key.
 *
 * @example
 * ```yaml
 * bridges:
 *   - type: slack
 *     botToken: ${SLACK_BOT_TOKEN}
 *     channelId: C0123456789
 *     signingSecret: ${SLACK_SIGNING_SECRET}
 * ```
 */
export function createBridgeFromConfig(options: Record<string, unknown>, env: AdapterEnvironment): Bridge {
  return new SlackBridge({ ...options, logger: env.logger });
}
