import { storageConformance } from '@pocketping/conformance';
import type { Storage } from '@pocketping/core';
import { MongoStorage } from '../src/index.js';
import { randomDatabase, targetLabel, useMongoTarget } from './mongo-target.js';

const target = useMongoTarget();
const databases = new WeakMap<Storage, string>();

storageConformance({
  name: `MongoStorage (${targetLabel})`,
  create: () => {
    const database = randomDatabase();
    const storage = new MongoStorage({ url: target.url(), database });
    databases.set(storage, database);
    return storage;
  },
  reopen: (storage) => new MongoStorage({ url: target.url(), database: databases.get(storage)! }),
  destroy: async (storage) => {
    const database = databases.get(storage);
    if (database) await target.admin().db(database).dropDatabase();
  },
});
