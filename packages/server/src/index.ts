export { keyMatches, registerAdminRoutes } from './admin-routes.js';
export { DiskAttachmentStore } from './disk-attachment-store.js';
export { pocketpingErrorHandler } from './http-errors.js';
export { type PluginSettings, PluginSettingsSchema, type PocketPingPluginOptions } from './options.js';
export { pocketpingPlugin } from './plugin.js';
export { CLOSE_RESTART, CLOSE_UNKNOWN_SESSION, RealtimeTransports } from './realtime.js';
