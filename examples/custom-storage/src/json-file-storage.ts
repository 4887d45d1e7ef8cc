import { type FileHandle, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  applyMessageQuery,
  type Message,
  type MessagePatch,
  type MessageQuery,
  type Session,
  type SessionPatch,
  type Storage,
  StorageError,
} from '@pocketping/core';

/** Options of `JsonFileStorage`. */
export interface JsonFileStorageOptions {
  /** The file that holds every session and message (JSON Lines); created on first write. */
  file: string;
}

/** One line of the file: the whole current state of one session or one message. */
type Entry = { session: Session } | { message: Message };

function encodeDates(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify has already called Date#toJSON on `value`; the holder still has the Date.
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Date ? { $date: raw.toISOString() } : value;
}

function decodeDates(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const iso = (value as { $date?: unknown }).$date;
    if (typeof iso === 'string' && Object.keys(value).length === 1) return new Date(iso);
  }
  return value;
}

/** Copies the keys of `patch` that are not undefined onto `target`. */
function assignDefined<T extends object>(target: T, patch: object): T {
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
  return target;
}

function fail(action: string, file: string, err: unknown): StorageError {
  return new StorageError(`JsonFileStorage: cannot ${action} ${file}: ${(err as Error).message}`, { cause: err });
}

/**
 * A PocketPing storage as a user might write one: everything in memory, and every change
 * appended to one file as a JSON line (the record's whole new state, dates kept as
 * `{"$date": "<ISO>"}`). A start replays the file and rewrites it compactly. Each call returns
 * once its change is written. Besides the four required methods it implements the updates,
 * the visitor lookup and the bridge references; PocketPing covers the rest. Fine for one small server; use PostgreSQL, Redis or MongoDB for
 * anything bigger, or for several servers.
 *
 * @example
 * ```ts
 * const pp = new PocketPing({ storage: new JsonFileStorage({ file: './data/pocketping.jsonl' }) });
 * await pp.init();
 * ```
 */
export class JsonFileStorage implements Storage {
  private readonly file: string;
  private readonly sessions = new Map<string, Session>();
  /** Messages by id, and the ids of each session's messages. */
  private readonly messages = new Map<string, Message>();
  private readonly bySession = new Map<string, Set<string>>();
  /** `bridge NUL threadId` → session id, `bridge NUL platform id` → message id; checked on read. */
  private readonly threads = new Map<string, string>();
  private readonly platformIds = new Map<string, string>();
  private handle: FileHandle | undefined;
  /** Lines waiting to be written, the write in progress, and the next one queued behind it. */
  private pending: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  constructor(options: JsonFileStorageOptions) {
    this.file = options.file;
  }

  /** Replays the file (when there is one), rewrites it compactly, and opens it for appending. */
  async init(): Promise<void> {
    if (this.handle) return;
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fail('read', this.file, err);
    }
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    lines.forEach((line, i) => {
      let entry: Entry;
      try {
        entry = JSON.parse(line, decodeDates) as Entry;
      } catch (err) {
        // A crash in the middle of an append leaves half a last line; that change never returned.
        if (i === lines.length - 1) return;
        throw new StorageError(`JsonFileStorage: ${this.file} line ${i + 1} is not valid JSON`, { cause: err });
      }
      if ('session' in entry) this.indexSession(entry.session);
      else this.index(entry.message);
    });
    try {
      await mkdir(dirname(this.file), { recursive: true });
      const compact = [
        ...[...this.sessions.values()].map((session) => JSON.stringify({ session }, encodeDates)),
        ...[...this.messages.values()].map((message) => JSON.stringify({ message }, encodeDates)),
      ];
      // Written aside and renamed, so a crash never leaves a half-rewritten file.
      const temporary = `${this.file}.${process.pid}.tmp`;
      await writeFile(temporary, compact.map((line) => `${line}\n`).join(''));
      await rename(temporary, this.file);
      this.handle = await open(this.file, 'a');
    } catch (err) {
      throw fail('write', this.file, err);
    }
  }

  /** Waits for the last write and closes the file. Safe to call twice. */
  async close(): Promise<void> {
    await this.writing.catch(() => {});
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  async ping(): Promise<boolean> {
    return this.handle !== undefined;
  }

  async createSession(session: Session): Promise<void> {
    const copy = structuredClone(session);
    this.indexSession(copy);
    await this.record({ session: copy });
  }

  async getSession(sessionId: string): Promise<Session | null> {
    const session = this.sessions.get(sessionId);
    return session ? structuredClone(session) : null;
  }

  async updateSession(sessionId: string, patch: SessionPatch): Promise<Session | null> {
    const session = this.sessions.get(sessionId);
    if (!session) return null;
    assignDefined(session, structuredClone(patch));
    this.indexSession(session);
    await this.record({ session });
    return structuredClone(session);
  }

  async getSessionByVisitorId(visitorId: string): Promise<Session | null> {
    let newest: Session | undefined;
    for (const session of this.sessions.values()) {
      if (session.visitorId !== visitorId) continue;
      if (!newest || session.lastActivity.getTime() >= newest.lastActivity.getTime()) newest = session;
    }
    return newest ? structuredClone(newest) : null;
  }

  async saveMessage(message: Message): Promise<void> {
    const copy = structuredClone(message);
    this.index(copy);
    await this.record({ message: copy });
  }

  async getMessages(sessionId: string, query?: MessageQuery): Promise<Message[]> {
    const ids = this.bySession.get(sessionId) ?? new Set<string>();
    const list = [...ids].map((id) => this.messages.get(id)!);
    return applyMessageQuery(list, query).map((m) => structuredClone(m));
  }

  async getMessage(messageId: string): Promise<Message | null> {
    const message = this.messages.get(messageId);
    return message ? structuredClone(message) : null;
  }

  async updateMessage(messageId: string, patch: MessagePatch): Promise<Message | null> {
    const message = this.messages.get(messageId);
    if (!message) return null;
    assignDefined(message, structuredClone(patch));
    this.index(message);
    await this.record({ message });
    return structuredClone(message);
  }

  // Bridge references: without these four, operator replies from a platform would only map to
  // threads opened since the process started.

  async setBridgeThread(sessionId: string, bridge: string, threadId: string | null): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    const threads = { ...session.bridgeThreads };
    if (threadId === null) delete threads[bridge];
    else threads[bridge] = threadId;
    session.bridgeThreads = threads;
    this.indexSession(session);
    await this.record({ session });
  }

  async findSessionByBridgeThread(bridge: string, threadId: string): Promise<Session | null> {
    const session = this.sessions.get(this.threads.get(`${bridge}\u0000${threadId}`) ?? '');
    // A replaced thread may still be in the index; the session itself says which thread is current.
    return session?.bridgeThreads?.[bridge] === threadId ? structuredClone(session) : null;
  }

  async saveBridgeMessageId(messageId: string, bridge: string, platformMessageId: string): Promise<void> {
    const message = this.messages.get(messageId);
    if (!message) return;
    message.bridgeMessageIds = { ...message.bridgeMessageIds, [bridge]: platformMessageId };
    this.index(message);
    await this.record({ message });
  }

  async findMessageByBridgeId(bridge: string, platformMessageId: string): Promise<Message | null> {
    const message = this.messages.get(this.platformIds.get(`${bridge}\u0000${platformMessageId}`) ?? '');
    return message?.bridgeMessageIds?.[bridge] === platformMessageId ? structuredClone(message) : null;
  }

  private indexSession(session: Session): void {
    this.sessions.set(session.id, session);
    for (const [bridge, threadId] of Object.entries(session.bridgeThreads ?? {})) {
      this.threads.set(`${bridge}\u0000${threadId}`, session.id);
    }
  }

  private index(message: Message): void {
    this.messages.set(message.id, message);
    const ids = this.bySession.get(message.sessionId) ?? new Set<string>();
    ids.add(message.id);
    this.bySession.set(message.sessionId, ids);
    for (const [bridge, platformId] of Object.entries(message.bridgeMessageIds ?? {})) {
      this.platformIds.set(`${bridge}\u0000${platformId}`, message.id);
    }
  }

  /**
   * Appends one entry. The line is built now, so the file sees changes in the order they were
   * made; lines that arrive while a write runs go out together in the next one.
   */
  private record(entry: Entry): Promise<void> {
    if (!this.handle) {
      return Promise.reject(new StorageError('JsonFileStorage: not open; call init() (PocketPing.init() does)'));
    }
    this.pending.push(`${JSON.stringify(entry, encodeDates)}\n`);
    if (this.queued) return this.queued;
    const next = this.writing
      .catch(() => {})
      .then(async () => {
        this.queued = undefined;
        const lines = this.pending.splice(0);
        try {
          await this.handle!.appendFile(lines.join(''));
        } catch (err) {
          throw fail('append to', this.file, err);
        }
      });
    this.queued = next;
    this.writing = next;
    return next;
  }
}
