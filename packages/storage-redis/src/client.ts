import { Redis } from 'ioredis';

/** Reads fail fast while Redis is down instead of queueing for ioredis' default 20 retries. */
const MAX_RETRIES_PER_REQUEST = 3;

/** Creates an ioredis client that connects on `connect()` and remembers its last error. */
export function createClient(url: string): { client: Redis; lastError: () => Error | undefined } {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST });
  let last: Error | undefined;
  // ioredis reports connection failures as 'error' events (and reconnects by itself); without
  // a listener it prints them. Commands still reject with their own errors.
  client.on('error', (err: Error) => {
    last = err;
  });
  return { client, lastError: () => last };
}
