import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PocketPing, silentLogger } from '@pocketping/core';
import express from 'express';
import { pocketpingExpress } from '../../src/index.js';
import { CONTRACT_API_KEY, protocolContract } from './protocol-contract.js';

protocolContract('Express adapter', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pp-contract-'));
  const pp = new PocketPing({ logger: silentLogger });
  await pp.init();
  const app = express();
  const pocketping = pocketpingExpress(pp, { apiKey: CONTRACT_API_KEY, uploadDir: dir });
  app.use('/pocketping', pocketping);
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  pocketping.attachRealtime(server);
  const { port } = server.address() as AddressInfo;
  return {
    pp,
    base: `http://127.0.0.1:${port}/pocketping`,
    websocket: true,
    async close() {
      pocketping.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pp.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
