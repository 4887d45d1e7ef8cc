import { type BridgeFake, bridgeConformance } from '@pocketping/conformance';
import { DiscordBridge } from '../src/index.js';
import { FakeDiscord } from './fake-discord.js';

type DiscordFake = BridgeFake & { discord: FakeDiscord };

async function startFake(channelType: number): Promise<DiscordFake> {
  const discord = await FakeDiscord.start({ channelType });
  return {
    discord,
    async posts(threadId) {
      return discord.channelMessages(threadId).map((m) => ({
        id: m.id,
        text: FakeDiscord.textOf(m),
        ...(m.deleted ? { deleted: true } : {}),
      }));
    },
    async operatorSays(threadId, text) {
      discord.say(threadId, text);
    },
    close: () => discord.close(),
  };
}

bridgeConformance({
  name: 'DiscordBridge (bot mode, text channel)',
  fake: () => startFake(0),
  create: (fake) => {
    const { discord } = fake as DiscordFake;
    return DiscordBridge.bot(discord.token, discord.channelId, { apiUrl: discord.apiUrl });
  },
});

bridgeConformance({
  name: 'DiscordBridge (bot mode, forum channel)',
  fake: () => startFake(15),
  create: (fake) => {
    const { discord } = fake as DiscordFake;
    return DiscordBridge.bot(discord.token, discord.channelId, { apiUrl: discord.apiUrl });
  },
});
