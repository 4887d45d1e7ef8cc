import { start } from './app.js';

// `pnpm start` entry: PORT, HOST and DATA_FILE from the environment.
const dataFile = process.env.DATA_FILE ?? './data/pocketping.jsonl';
const server = await start({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  dataFile,
  ...(process.env.POCKETPING_API_KEY ? { apiKey: process.env.POCKETPING_API_KEY } : {}),
  pocketping: {
    welcomeMessage: 'Hi! Ask us anything.',
    onMessage(message, session) {
      if (message.sender === 'visitor') console.log(`[${session.id}] visitor: ${message.content}`);
    },
  },
});

console.log(`PocketPing (custom storage example) listening on ${server.url}
  conversations are kept in: ${dataFile}
  widget endpoint: ${server.url}/pocketping
  reply as the operator:
    curl -X POST ${server.url}/pocketping/admin/sessions/<sessionId>/messages \\
      -H 'authorization: Bearer ${server.apiKey}' -H 'content-type: application/json' \\
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
