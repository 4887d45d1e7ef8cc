import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PocketPing, silentLogger } from '@pocketping/core';
import Fastify from 'fastify';
import { pocketpingPlugin } from '../../src/index.js';
import { CONTRACT_API_KEY, protocolContract } from './protocol-contract.js';

protocolContract('Fastify plugin', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pp-contract-'));
  const pp = new PocketPing({ logger: silentLogger });
  await pp.init();
  const app = Fastify({ forceCloseConnections: true });
  await app.register(pocketpingPlugin, {
    pocketping: pp,
    prefix: '/pocketping',
    apiKey: CONTRACT_API_KEY,
    uploadDir: dir,
  });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    pp,
    base: `${origin}/pocketping`,
    websocket: true,
    async close() {
      await app.close();
      await pp.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
