import { bridgeConformance } from '@pocketping/conformance';
import { SlackBridge } from '../src/index.js';
import { FakeSlack } from './fake-slack.js';

bridgeConformance({
  name: 'SlackBridge (bot mode)',
  fake: () => FakeSlack.start(),
  create: (fake) => {
    const slack = fake as FakeSlack;
    const bridge = new SlackBridge({
      botToken: slack.token,
      channelId: slack.channelId,
      signingSecret: slack.signingSecret,
      apiUrl: slack.apiUrl,
    });
    slack.bridge = bridge;
    return bridge;
  },
});
