import type { AdapterEnvironment, Bridge } from '@pocketping/core';
import { ConsoleBridge } from './console-bridge.js';
import { parseConfigEntry } from './options.js';

/**
 * Builds the bridge for `pocketping-server` from a `config.yaml` entry
 * `{ type: pocketping-bridge-console, ... }` (the keys without `type`): `name`,
 * `operatorName`, `labelLength`, and `output: stdout | stderr`. Replies are read from stdin.
 * @throws ValidationError (`CONFIG_INVALID`) naming the bad key.
 *
 * @example
 * ```yaml
 * bridges:
 *   - type: pocketping-bridge-console
 *     operatorName: Ana
 *     output: stderr   # keep stdout for the server's JSON logs
 * ```
 */
export function createBridgeFromConfig(options: Record<string, unknown>, _env: AdapterEnvironment): Bridge {
  const { output, ...settings } = parseConfigEntry(options);
  return new ConsoleBridge({ ...settings, output: output === 'stderr' ? process.stderr : process.stdout });
}
