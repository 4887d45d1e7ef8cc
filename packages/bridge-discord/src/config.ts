import type { AdapterEnvironment, Bridge } from '@pocketping/core';
import { DiscordBridge } from './discord-bridge.js';

/**
 * Entry for `pocketping-server`: `bridges: [{ type: discord, botToken, channelId }]` (or
 * `webhookUrl`). Takes the same keys as `DiscordBridge`'s options; unknown keys are refused with
 * a `ValidationError` that names them.
 *
 * @example
 * ```ts
 * const bridge = createBridgeFromConfig({ botToken: '…', channelId: '123456789012345678' }, env);
 * ```
 */
export function createBridgeFromConfig(options: Record<string, unknown>, env: AdapterEnvironment): Bridge {
  return new DiscordBridge({ ...options, logger: env.logger } as ConstructorParameters<typeof DiscordBridge>[0]);
}
