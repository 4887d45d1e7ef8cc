export { type BuildServerOptions, type BuiltServer, buildServer } from './build-server.js';
export {
  CONFIG_TEMPLATE,
  ConfigError,
  loadConfigFile,
  parseConfig,
  type ServerConfig,
  ServerConfigSchema,
} from './config.js';
export { DiskAttachmentStore } from './disk-attachment-store.js';
export { type ExpressAdapter, type ExpressAdapterOptions, pocketpingExpress } from './express.js';
export { type PluginSettings, PluginSettingsSchema, type PocketPingPluginOptions } from './options.js';
export { pocketpingPlugin } from './plugin.js';
export { WidgetSocketServer } from './realtime.js';
export { CLOSE_RESTART, CLOSE_UNKNOWN_SESSION } from '@pocketping/core';
