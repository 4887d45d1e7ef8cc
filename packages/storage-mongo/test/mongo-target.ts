import { randomBytes } from 'node:crypto';
import type { AddressInfo, Server } from 'node:net';
import { CongoServer } from '@push.rocks/smartmongo/dist_ts/congodb/index.js';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll } from 'vitest';

/** Where these tests run: a real MongoDB when `MONGO_URL` is set, else the CongoDB emulator. */
export const targetLabel = process.env.MONGO_URL ? 'MongoDB at MONGO_URL' : 'CongoDB emulator';

/** True when the tests run against the emulator (which lacks unique-index enforcement). */
export const onEmulator = !process.env.MONGO_URL;

/** A fresh database name, so test files and tests never see each other's data. */
export function randomDatabase(): string {
  return `pp_test_${randomBytes(6).toString('hex')}`;
}

/**
 * Starts a CongoDB server (a MongoDB wire-protocol server written in JS, from
 * @push.rocks/smartmongo) on 127.0.0.1 and an ephemeral port. Returns its URL and a stop function.
 */
export async function startEmulator(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = new CongoServer({ host: '127.0.0.1', port: 0 });
  await server.start();
  // CongoServer reports the configured port (0); the bound one is on its net.Server.
  const net = (server as unknown as { server?: Server }).server;
  const address = net?.address() as AddressInfo | null | undefined;
  if (!address || typeof address.port !== 'number') {
    await server.stop();
    throw new Error('CongoServer did not expose its listening port (smartmongo internals changed?)');
  }
  // serverMonitoringMode=poll: CongoDB's answers to the driver's streaming (exhaust) heartbeat
  // sometimes end early under load, which makes the driver clear its pool mid-test.
  return {
    url: `mongodb://127.0.0.1:${address.port}/?serverMonitoringMode=poll`,
    stop: () => server.stop(),
  };
}

/**
 * For one test file: the MongoDB URL (MONGO_URL, or an emulator started before the tests and
 * stopped after) and an admin client to set up and drop test databases.
 */
export function useMongoTarget(): { url: () => string; admin: () => MongoClient } {
  let url: string | undefined;
  let admin: MongoClient | undefined;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (process.env.MONGO_URL) {
      url = process.env.MONGO_URL;
    } else {
      const emulator = await startEmulator();
      url = emulator.url;
      stop = emulator.stop;
    }
    admin = new MongoClient(url);
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.close();
    await stop?.();
  });
  return {
    url: () => {
      if (!url) throw new Error('the MongoDB target is not started yet');
      return url;
    },
    admin: () => {
      if (!admin) throw new Error('the MongoDB target is not started yet');
      return admin;
    },
  };
}
