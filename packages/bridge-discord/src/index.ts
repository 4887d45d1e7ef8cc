export { createBridgeFromConfig } from './config.js';
export { DISCORD_INTENTS, DiscordBridge } from './discord-bridge.js';
export { importPublicKey, verifyInteractionSignature } from './interactions.js';
export {
  type DiscordBridgeOptions,
  DiscordBridgeOptionsSchema,
  type ResolvedDiscordOptions,
} from './options.js';
export { inviteUrl, REQUIRED_PERMISSIONS, REQUIRED_PERMISSIONS_INTEGER } from './setup-guides.js';
