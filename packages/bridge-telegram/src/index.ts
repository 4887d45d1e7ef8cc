export { createBridgeFromConfig } from './config.js';
export {
  PACKAGE_NAME,
  type ResolvedTelegramBridgeOptions,
  type TelegramBridgeOptions,
  TelegramBridgeOptionsSchema,
} from './options.js';
export { TelegramBridge } from './telegram-bridge.js';
