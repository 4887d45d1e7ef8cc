export { createBridgeFromConfig } from './config.js';
export { ConsoleBridge } from './console-bridge.js';
export {
  ConsoleBridgeConfigSchema,
  type ConsoleBridgeOptions,
  type ConsoleBridgeSettings,
  ConsoleBridgeSettingsSchema,
} from './options.js';
export { parseReplyLine, type ReplyLine } from './reply-line.js';
