import {
  type Bridge,
  type ConnectResponse,
  MemoryAttachmentStore,
  MemoryBridge,
  MemoryStorage,
  PocketPing,
  type PocketPingOptions,
  type RequestContext,
  silentLogger,
} from '@pocketping/core';
import { expect, onTestFinished } from 'vitest';

/** The absolute endpoint base a widget would use. */
export const BASE_URL = 'https://chat.example.com/pocketping';

/** What the widget sends as `metadata` on `/connect` (PROTOCOL.md §2.9). */
export const WIDGET_METADATA = {
  url: 'https://shop.example.com/pricing',
  referrer: 'https://www.google.com/',
  pageTitle: 'Pricing',
  userAgent:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  timezone: 'Europe/Paris',
  language: 'fr-FR',
  screenResolution: '1440x900',
  botSignals: { webdriver: false, plugins: false, languages: false, chrome: false, permissions: false },
};

/** The envelope a widget receives over WebSocket or SSE. */
export interface Envelope {
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: envelopes are parsed JSON, read field by field in asserts
  data: any;
}

/** A PocketPing with in-memory storage, bridge and files, closed when the test ends. */
export interface Harness {
  pp: PocketPing;
  storage: MemoryStorage;
  bridge: MemoryBridge;
  files: MemoryAttachmentStore;
}

/**
 * Builds and initializes a PocketPing for one test. `bridges` replaces the default
 * MemoryBridge (pass `[]` for none).
 */
export async function harness(options: PocketPingOptions = {}, bridges?: Bridge[]): Promise<Harness> {
  const storage = (options.storage as MemoryStorage | undefined) ?? new MemoryStorage();
  const bridge = new MemoryBridge();
  const files = new MemoryAttachmentStore();
  const pp = new PocketPing({
    logger: silentLogger,
    attachmentStore: files,
    ...options,
    storage,
    bridges: bridges ?? [bridge],
  });
  await pp.init();
  onTestFinished(() => pp.close());
  return { pp, storage, bridge, files };
}

/** Request facts as a server adapter would pass them. */
export const CTX: RequestContext = { baseUrl: BASE_URL, ip: '203.0.113.7', widgetVersion: '2.6.0' };

let visitorCounter = 0;

/** A widget-style visitor id (`<base36 ms>-<9 base36 chars>`). */
export function visitorId(): string {
  visitorCounter++;
  return `${Date.now().toString(36)}-${visitorCounter.toString(36).padStart(9, '0')}`;
}

/** `POST /connect` as the widget sends it on a first visit, with overrides. */
export function connect(pp: PocketPing, body: Record<string, unknown> = {}, ctx: RequestContext = CTX) {
  return pp.handleConnect({ visitorId: visitorId(), sessionId: null, metadata: WIDGET_METADATA, ...body }, ctx);
}

/** Connects a new visitor and returns the session id. */
export async function newSession(pp: PocketPing, body: Record<string, unknown> = {}): Promise<string> {
  const res: ConnectResponse = await connect(pp, body);
  return res.sessionId;
}

/** `POST /message` as the widget sends it. */
export function sendVisitor(pp: PocketPing, sessionId: string, content: string, extra: Record<string, unknown> = {}) {
  return pp.handleMessage({ sessionId, content, sender: 'visitor', attachmentIds: [], ...extra }, CTX);
}

/** Follows a session's realtime frames like one browser tab. */
export function tab(pp: PocketPing, sessionId: string) {
  const frames: Envelope[] = [];
  const unsubscribe = pp.subscribe(sessionId, (frame) => frames.push(JSON.parse(frame.json) as Envelope));
  return {
    frames,
    unsubscribe,
    /** Frames of one type, in arrival order. */
    of(type: string): Envelope[] {
      return frames.filter((f) => f.type === type);
    },
  };
}

/** Paths of every `null` inside a JSON value (the widget wants absent fields omitted). */
export function nullPaths(value: unknown, path = '$'): string[] {
  if (value === null) return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => nullPaths(v, `${path}[${i}]`));
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => nullPaths(v, `${path}.${k}`));
  }
  return [];
}

/** Asserts the value, as JSON on the wire, holds no `null`. */
export function expectNoNulls(value: unknown): void {
  expect(nullPaths(JSON.parse(JSON.stringify(value)))).toEqual([]);
}

/** Asserts a promise rejects with a PocketPing error of `code`, and returns the error. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a ${code} error`).toBeInstanceOf(Error);
  expect((err as { code?: string }).code).toBe(code);
  return err as Error & { code: string };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until `check` returns true, polling every few ms, failing after `timeoutMs` with `what`
 * in the message. Timed with `performance.now()`, so a test that fakes `Date` still times out.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 2000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what} not met in time`);
    await sleep(5);
  }
}
