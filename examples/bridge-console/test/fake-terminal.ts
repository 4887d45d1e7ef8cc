import { PassThrough } from 'node:stream';
import type { BridgeFake, FakePost } from '@pocketping/conformance';

/**
 * The console bridge's "platform": two in-memory streams standing in for the operator's
 * terminal. `printed` is everything the bridge wrote; `type` is the operator typing a line.
 */
export interface FakeTerminal extends BridgeFake {
  input: PassThrough;
  output: PassThrough;
  /** Everything printed so far. */
  printed(): string;
  /** The operator types one line and presses Enter. */
  type(line: string): void;
  /** Waits until the printed text matches. */
  waitForPrinted(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Starts a fake terminal. */
export function fakeTerminal(): FakeTerminal {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  const listeners = new Set<() => void>();
  output.setEncoding('utf8');
  output.on('data', (chunk: string) => {
    text += chunk;
    for (const l of [...listeners]) l();
  });
  const terminal: FakeTerminal = {
    input,
    output,
    printed: () => text,
    type(line) {
      input.write(`${line}\n`);
    },
    waitForPrinted(pattern, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text.match(pattern);
          if (!m) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`nothing printed matches ${pattern} within ${timeoutMs} ms; printed:\n${text}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    // A thread is every line that starts with "[label] ".
    async posts(threadId): Promise<FakePost[]> {
      const prefix = `[${threadId}] `;
      return text
        .split('\n')
        .filter((line) => line.startsWith(prefix))
        .map((line, i) => ({ id: `${threadId}-${i}`, text: line.slice(prefix.length) }));
    },
    async operatorSays(threadId, reply) {
      terminal.type(`${threadId} ${reply}`);
    },
    async close() {
      input.end();
      output.end();
    },
  };
  return terminal;
}
