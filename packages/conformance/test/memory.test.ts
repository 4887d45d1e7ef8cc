import { MemoryBridge, MemoryStorage } from '@pocketping/core';
import { bridgeConformance, storageConformance } from '../src/index.js';

storageConformance({ name: 'MemoryStorage', create: () => new MemoryStorage() });

bridgeConformance({
  name: 'MemoryBridge',
  fake: () => {
    const bridge = new MemoryBridge();
    return {
      bridge,
      async posts(threadId: string) {
        return bridge
          .thread(threadId)
          .map((m) => ({ id: m.platformMessageId, text: m.text, ...(m.deleted ? { deleted: true } : {}) }));
      },
      async operatorSays(threadId: string, text: string) {
        await bridge.reply(threadId, text, { operatorName: 'Ana' });
      },
    };
  },
  create: (fake) => (fake as unknown as { bridge: MemoryBridge }).bridge,
});
