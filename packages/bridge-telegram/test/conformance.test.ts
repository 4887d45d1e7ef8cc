import { bridgeConformance } from '@pocketping/conformance';
import { TelegramBridge } from '../src/index.js';
import { FakeTelegram } from './fake-telegram.js';
import { startAppServer } from './helpers.js';

// Long polling: the fake queues the operator's message for getUpdates.
bridgeConformance({
  name: 'TelegramBridge (polling)',
  fake: () => FakeTelegram.start(),
  create: (fake) => {
    const f = fake as FakeTelegram;
    return new TelegramBridge({ token: f.token, chatId: f.chat.id, apiRoot: f.apiRoot, updates: 'polling' });
  },
});

// Webhook: the suite's PocketPing has no public URL, so the webhook is registered with the fake
// the way an admin would, pointing at a local server that hands requests to bridge.webhook.
bridgeConformance({
  name: 'TelegramBridge (webhook)',
  fake: () => FakeTelegram.start(),
  create: async (fake) => {
    const f = fake as FakeTelegram;
    const secret = 'conformance_secret';
    const bridge = new TelegramBridge({ token: f.token, chatId: f.chat.id, apiRoot: f.apiRoot, webhookSecret: secret });
    const app = await startAppServer();
    app.attach({ bridges: [bridge] } as never);
    f.onClose(() => app.close());
    f.webhook = { url: `${app.url}/webhooks/${bridge.webhook!.path}`, secret };
    return bridge;
  },
});
