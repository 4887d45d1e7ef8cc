export {
  type BridgeConformanceOptions,
  type BridgeFake,
  bridgeConformance,
  type FakePost,
} from './bridge-conformance.js';
export { makeMessage, makeOutboxRecord, makeSession, nextTime } from './fixtures.js';
export { storageConformance } from './storage-conformance.js';
export type { StorageConformanceOptions } from './storage/types.js';
export { serviceUrl } from './services.js';
