export { createBridgeFromConfig } from './config.js';
export { escapeText, fromSlackText } from './format.js';
export {
  parseSlackBridgeOptions,
  type ResolvedSlackBridgeOptions,
  type SlackBridgeOptions,
  SlackBridgeOptionsSchema,
} from './options.js';
export { DOCS_URL, HISTORY_SCOPES, REQUIRED_SCOPES } from './setup.js';
export { MAX_REQUEST_AGE_SECONDS, signSlackRequest, verifySlackSignature } from './signature.js';
export { SlackBridge, type SlackBotModeOptions, type SlackWebhookModeOptions } from './slack-bridge.js';
