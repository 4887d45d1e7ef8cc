import { randomBytes } from 'node:crypto';
import { start } from './app.js';

// `pnpm start` entry: PORT and HOST from the environment, operator replies through the admin API.
const apiKey = process.env.POCKETPING_API_KEY ?? randomBytes(24).toString('base64url');
const server = await start({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  apiKey,
  pocketping: {
    welcomeMessage: 'Hi! Ask us anything.',
    onMessage(message, session) {
      if (message.sender === 'visitor') console.log(`[${session.id}] visitor: ${message.content}`);
    },
  },
});

console.log(`PocketPing (Hono example) listening on ${server.url}
  widget endpoint: ${server.url}/pocketping   (realtime: SSE and polling)
  reply as the operator:
    curl -X POST ${server.url}/pocketping/admin/sessions/<sessionId>/messages \\
      -H 'authorization: Bearer ${apiKey}' -H 'content-type: application/json' \\
      -d '{"content":"Hello from the operator"}'`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
