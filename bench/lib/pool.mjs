// A client pool in its own process (forked by the scenario, so it inherits the load core and has
// its own open-files limit): holds N WebSockets or SSE streams to one server and measures
// delivery latency. Commands arrive over IPC: { id, cmd, ...args }; answers { id, result|error }.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { importFromServer } from './deps.mjs';

const WebSocket = await importFromServer('ws');

/** @type {{ ws: any, sessionId: string, onFrame?: (text: string) => void }[]} */
let sockets = [];
/** @type {{ req: http.ClientRequest, res?: http.IncomingMessage }[]} */
let streams = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function post(url, path, body, apiKey) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      `${url}${path}`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          authorization: `Bearer ${apiKey}`,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          res.statusCode < 300 ? resolve(text) : reject(new Error(`${path}: ${res.statusCode} ${text.slice(0, 200)}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function inBatches(items, concurrency, fn) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return failed;
}

const commands = {
  /** Opens one WebSocket per session id at `${url}/pocketping/stream?sessionId=`. */
  async open({ url, sessionIds, concurrency = 100, autoPong = true }) {
    const wsUrl = url.replace(/^http/, 'ws');
    const t0 = performance.now();
    const opened = [];
    const failed = await inBatches(sessionIds, concurrency, (sessionId) => {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${wsUrl}/pocketping/stream?sessionId=${sessionId}`, {
          perMessageDeflate: false,
          autoPong,
        });
        const entry = { ws, sessionId, closeCode: undefined };
        ws.on('message', (data) => entry.onFrame?.(data.toString()));
        ws.on('close', (code) => {
          entry.closeCode = code;
        });
        ws.once('open', () => {
          opened.push(entry);
          resolve();
        });
        ws.once('error', reject);
      });
    });
    sockets.push(...opened);
    return { opened: opened.length, failed, ms: Math.round(performance.now() - t0), total: sockets.length };
  },

  /** Sequential operator replies to random sessions; latency from POST to receipt on the widget socket. */
  async single({ url, apiKey, samples, timeoutMs = 5000 }) {
    const latencies = [];
    let timeouts = 0;
    for (let i = 0; i < samples; i++) {
      const entry = sockets[Math.floor(Math.random() * sockets.length)];
      const token = `tok${process.pid}x${i}x${Math.random().toString(36).slice(2, 8)}`;
      let timer;
      const received = new Promise((resolve) => {
        entry.onFrame = (text) => {
          if (text.includes(token)) resolve(performance.now());
        };
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      });
      const t0 = performance.now();
      const [t1] = await Promise.all([
        received,
        post(url, `/pocketping/admin/sessions/${entry.sessionId}/messages`, { content: `reply ${token}` }, apiKey),
      ]);
      clearTimeout(timer);
      entry.onFrame = undefined;
      if (t1 === undefined) timeouts++;
      else latencies.push(t1 - t0);
    }
    return { latencies, timeouts };
  },

  /** One event to every session: time from POST until each socket has it, and until all have. */
  async broadcast({ url, apiKey, rounds, timeoutMs = 30_000 }) {
    const out = [];
    for (let r = 0; r < rounds; r++) {
      const token = `bc${process.pid}x${r}x${Math.random().toString(36).slice(2, 8)}`;
      const arrivals = [];
      let resolveAll;
      const all = new Promise((resolve) => (resolveAll = resolve));
      const t0 = performance.now();
      for (const entry of sockets) {
        entry.onFrame = (text) => {
          if (!text.includes(token)) return;
          arrivals.push(performance.now() - t0);
          if (arrivals.length === sockets.length) resolveAll();
        };
      }
      const timer = setTimeout(resolveAll, timeoutMs);
      await Promise.all([all, post(url, '/pocketping/admin/events', { name: 'bench', data: { token } }, apiKey)]);
      clearTimeout(timer);
      for (const entry of sockets) entry.onFrame = undefined;
      arrivals.sort((a, b) => a - b);
      out.push({
        received: arrivals.length,
        expected: sockets.length,
        allMs: arrivals.at(-1),
        firstMs: arrivals[0],
        p50Ms: arrivals[Math.floor(arrivals.length * 0.5)],
        p99Ms: arrivals[Math.min(arrivals.length - 1, Math.floor(arrivals.length * 0.99))],
      });
      await new Promise((r) => setTimeout(r, 200));
    }
    return out;
  },

  /** Sends one text frame of `bytes` bytes on the first socket; resolves with the close code. */
  async bigFrame({ bytes }) {
    const entry = sockets[0];
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ closed: false }), 5000);
      entry.ws.once('close', (code) => {
        clearTimeout(timer);
        resolve({ closed: true, code });
      });
      entry.ws.send('x'.repeat(bytes));
    });
  },

  /** How many of our sockets the server has closed (e.g. dead-peer detection). */
  async closedCount() {
    return { closed: sockets.filter((s) => s.ws.readyState === WebSocket.CLOSED).length, total: sockets.length };
  },

  /** Closes every WebSocket and waits for the close handshakes. */
  async close() {
    const list = sockets;
    sockets = [];
    await Promise.all(
      list.map(
        (entry) =>
          new Promise((resolve) => {
            if (entry.ws.readyState === WebSocket.CLOSED) return resolve();
            const timer = setTimeout(() => {
              entry.ws.terminate();
              resolve();
            }, 5000);
            entry.ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            entry.ws.close(1000);
          }),
      ),
    );
    return { closed: list.length };
  },

  /** Opens one SSE stream (GET /stream without upgrade) per session id, each on its own socket. */
  async openSse({ url, sessionIds, concurrency = 100 }) {
    const t0 = performance.now();
    const opened = [];
    const failed = await inBatches(sessionIds, concurrency, (sessionId) => {
      return new Promise((resolve, reject) => {
        const req = http.get(`${url}/pocketping/stream?sessionId=${sessionId}`, {
          agent: false,
          headers: { accept: 'text/event-stream' },
        });
        req.once('response', (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return reject(new Error(String(res.statusCode)));
          }
          res.setEncoding('utf8');
          // The first comment line proves the stream is live.
          res.once('data', () => {
            opened.push({ req, res });
            resolve();
          });
          res.on('data', () => {});
        });
        req.once('error', reject);
      });
    });
    streams.push(...opened);
    return { opened: opened.length, failed, ms: Math.round(performance.now() - t0), total: streams.length };
  },

  async closeSse() {
    const list = streams;
    streams = [];
    for (const s of list) s.req.destroy();
    return { closed: list.length };
  },
};

process.on('message', async (msg) => {
  try {
    const result = await commands[msg.cmd](msg);
    process.send({ id: msg.id, result });
  } catch (err) {
    process.send({ id: msg.id, error: String(err?.stack ?? err) });
  }
});
process.send({ ready: true });
