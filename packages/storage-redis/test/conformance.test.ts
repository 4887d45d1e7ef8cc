import { storageConformance } from '@pocketping/conformance';
import { afterAll } from 'vitest';
import { RedisStorage } from '../src/index.js';
import { closeAdmin, deletePrefix, randomPrefix, redisService } from './helpers.js';

afterAll(closeAdmin);

storageConformance({
  name: 'RedisStorage',
  skip: redisService.skip,
  create: () => new RedisStorage({ url: redisService.url!, keyPrefix: randomPrefix() }),
  reopen: (storage) =>
    new RedisStorage({ url: redisService.url!, keyPrefix: (storage as RedisStorage).settings.keyPrefix }),
  destroy: (storage) => deletePrefix((storage as RedisStorage).settings.keyPrefix),
});

storageConformance({
  name: 'RedisStorage with ttlDays',
  skip: redisService.skip,
  create: () => new RedisStorage({ url: redisService.url!, keyPrefix: randomPrefix(), ttlDays: 30 }),
  destroy: (storage) => deletePrefix((storage as RedisStorage).settings.keyPrefix),
});
