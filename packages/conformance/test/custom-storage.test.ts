import type { Message, Session, Storage } from '@pocketping/core';
import { storageConformance } from '../src/index.js';

/**
 * A storage written the way a user would write one first: the four required methods and
 * nothing else, over two Maps. PocketPing must make every widget flow work with it.
 */
class FourMethodStorage implements Storage {
  private sessions = new Map<string, Session>();
  private messages = new Map<string, Map<string, Message>>();

  async createSession(session: Session): Promise<void> {
    this.sessions.set(session.id, structuredClone(session));
  }

  async getSession(sessionId: string): Promise<Session | undefined> {
    const s = this.sessions.get(sessionId);
    return s && structuredClone(s);
  }

  async saveMessage(message: Message): Promise<void> {
    const list = this.messages.get(message.sessionId) ?? new Map<string, Message>();
    list.set(message.id, structuredClone(message));
    this.messages.set(message.sessionId, list);
  }

  async getMessages(sessionId: string): Promise<Message[]> {
    return [...(this.messages.get(sessionId)?.values() ?? [])]
      .sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime())
      .map((m) => structuredClone(m));
  }
}

storageConformance({ name: 'FourMethodStorage (user-written)', create: () => new FourMethodStorage() });
