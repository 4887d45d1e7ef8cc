import { MemoryBridge, MemoryStorage, PocketPing, type Storage, silentLogger } from '@pocketping/core';
import { describe, expect, it } from 'vitest';

function configError(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the constructor to throw');
}

describe('PocketPing options', () => {
  it('accepts no options at all', () => {
    expect(() => new PocketPing({ logger: silentLogger })).not.toThrow();
  });

  it('applies the documented defaults', () => {
    const pp = new PocketPing();
    expect(pp.settings).toMatchObject({
      operatorReachable: true,
      operatorOnline: false,
      maxAttachmentSize: 10 * 1024 * 1024,
      uploadUrlTtlSeconds: 900,
      historyLimit: 500,
      afterSlackMs: 5000,
      typingThrottleMs: 3000,
      typingTimeoutMs: 5000,
      delivery: { maxAttempts: 12, baseDelayMs: 500, maxDelayMs: 60_000 },
    });
    expect(pp.settings.allowedMimeTypes).toContain('application/octet-stream');
  });

  it('rejects an invalid value with CONFIG_INVALID naming the key', () => {
    const err = configError(() => new PocketPing({ historyLimit: -1 }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('historyLimit');
  });

  it('names the dotted path of a nested key', () => {
    const err = configError(() => new PocketPing({ delivery: { maxAttempts: 0 } }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('delivery.maxAttempts');
  });

  it('rejects a publicUrl that is not a URL', () => {
    const err = configError(() => new PocketPing({ publicUrl: 'chat.example.com' }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('publicUrl');
  });

  it('rejects a hook that is not a function, naming it', () => {
    const err = configError(() => new PocketPing({ onMessage: 'log it' as unknown as () => void }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('onMessage');
  });

  it('rejects two bridges with the same name', () => {
    const err = configError(() => new PocketPing({ bridges: [new MemoryBridge(), new MemoryBridge()] }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('"memory"');
  });

  it('accepts two bridges with different names', () => {
    const pp = new PocketPing({ bridges: [new MemoryBridge({ name: 'a' }), new MemoryBridge({ name: 'b' })] });
    expect(pp.bridges.map((b) => b.name)).toEqual(['a', 'b']);
  });

  it('rejects a bridge without a name', () => {
    const err = configError(() => new PocketPing({ bridges: [{ name: '' }] }));
    expect(err.code).toBe('CONFIG_INVALID');
  });

  it('addBridge rejects a duplicate name too', async () => {
    const pp = new PocketPing({ bridges: [new MemoryBridge()], logger: silentLogger });
    await expect(pp.addBridge(new MemoryBridge())).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('rejects a storage missing a required method, naming it', () => {
    for (const missing of ['createSession', 'getSession', 'saveMessage', 'getMessages']) {
      const storage = new MemoryStorage() as unknown as Record<string, unknown>;
      const partial = Object.fromEntries(
        ['createSession', 'getSession', 'saveMessage', 'getMessages']
          .filter((m) => m !== missing)
          .map((m) => [m, (storage[m] as (...a: unknown[]) => unknown).bind(storage)]),
      ) as unknown as Storage;
      const err = configError(() => new PocketPing({ storage: partial }));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toContain(missing);
    }
  });

  it('does no I/O in the constructor and close is safe twice', async () => {
    let inits = 0;
    const storage = new MemoryStorage();
    const pp = new PocketPing({
      storage: Object.assign(storage, {
        init: async () => {
          inits++;
        },
      }),
      logger: silentLogger,
    });
    expect(inits).toBe(0);
    await pp.init();
    await pp.init();
    expect(inits).toBe(1);
    expect(await pp.isReady()).toBe(true);
    await pp.close();
    await pp.close();
    expect(await pp.isReady()).toBe(false);
  });

  it('a bridge whose init fails surfaces as a SetupError', async () => {
    const pp = new PocketPing({
      logger: silentLogger,
      bridges: [
        {
          name: 'broken',
          init() {
            throw new Error('401 Unauthorized');
          },
        },
      ],
    });
    const err = await pp.init().catch((e: unknown) => e as Error & { code?: string; formattedGuide?: () => string });
    expect(err?.code).toBe('SETUP_INVALID');
    expect(err?.formattedGuide?.()).toContain('401 Unauthorized');
    await pp.close();
  });
});
