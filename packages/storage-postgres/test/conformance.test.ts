import { storageConformance } from '@pocketping/conformance';
import { afterAll } from 'vitest';
import { PostgresStorage } from '../src/index.js';
import { closeAdmin, dropSchema, pgService, randomSchema } from './helpers.js';

afterAll(closeAdmin);

storageConformance({
  name: 'PostgresStorage',
  skip: pgService.skip,
  create: () => new PostgresStorage({ url: pgService.url!, schema: randomSchema(), poolSize: 4 }),
  reopen: (storage) =>
    new PostgresStorage({ url: pgService.url!, schema: (storage as PostgresStorage).settings.schema, poolSize: 2 }),
  destroy: (storage) => dropSchema((storage as PostgresStorage).settings.schema),
});
