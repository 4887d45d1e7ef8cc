export { ADMIN_ROUTES, type AdminRoute, apiKeyMatches } from './admin-api.js';
export { createFetchHandler, type FetchHandlerOptions } from './fetch-handler.js';
export {
  type HttpOptions,
  HttpOptionsSchema,
  ProtocolHttpHandler,
  type ProtocolHttpRequest,
  type ProtocolHttpResponse,
} from './pipeline.js';
export {
  attachWidgetSocket,
  CLOSE_RESTART,
  CLOSE_TOO_SLOW,
  CLOSE_UNKNOWN_SESSION,
  type WidgetSocket,
  type WidgetSocketHandle,
  type WidgetSocketOptions,
} from './socket.js';
export { openSseStream, type SseStreamOptions } from './sse.js';
