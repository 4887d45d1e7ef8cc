import { PassThrough } from 'node:stream';
import { type OutgoingFrame, MemoryStorage, PocketPing, SetupError, silentLogger } from '@pocketping/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleBridge, createBridgeFromConfig, parseReplyLine } from '../src/index.js';
import { fakeTerminal } from './fake-terminal.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(options: { operatorName?: string } = {}) {
  const terminal = fakeTerminal();
  const bridge = new ConsoleBridge({ input: terminal.input, output: terminal.output, ...options });
  const storage = new MemoryStorage();
  const pp = new PocketPing({ storage, bridges: [bridge], logger: silentLogger });
  await pp.init();
  cleanups.push(async () => {
    await pp.close();
    await terminal.close?.();
  });
  const { sessionId } = await pp.handleConnect({
    visitorId: 'v-1',
    sessionId: null,
    metadata: { url: 'https://shop.example.com/cart', language: 'en' },
  });
  const send = (content: string) => pp.handleMessage({ sessionId, content, sender: 'visitor', attachmentIds: [] });
  const label = async () => (await storage.getSession(sessionId))?.bridgeThreads?.[bridge.name];
  return { terminal, bridge, storage, pp, sessionId, send, label };
}

function collect(pp: PocketPing, sessionId: string): OutgoingFrame[] {
  const frames: OutgoingFrame[] = [];
  const unsubscribe = pp.subscribe(sessionId, (f) => frames.push(f));
  cleanups.push(async () => unsubscribe());
  return frames;
}

describe('ConsoleBridge', () => {
  it('prints the session card and the visitor message under a short label', async () => {
    const { terminal, pp, send, label } = await setup();
    await send('Do you ship to Canada?');
    await pp.flushDeliveries();
    const l = await label();
    expect(l).toMatch(/^[a-z2-9]{5}$/);
    expect(terminal.printed()).toContain(`[${l}] ── new conversation: Visitor`);
    expect(terminal.printed()).toContain(`[${l}]    Page: https://shop.example.com/cart`);
    expect(terminal.printed()).toContain(`[${l}] visitor: Do you ship to Canada?`);
  });

  it('a typed "<label> <reply>" reaches the widget with the configured operator name', async () => {
    const { terminal, pp, sessionId, send, label } = await setup({ operatorName: 'Ana' });
    await send('Anyone there?');
    await pp.flushDeliveries();
    const frames = collect(pp, sessionId);
    terminal.type(`${await label()}   Yes, how can I help?`);
    await expect
      .poll(() => frames.find((f) => f.event.type === 'message' && f.event.data.sender === 'operator')?.event.data)
      .toMatchObject({ content: 'Yes, how can I help?', operatorName: 'Ana' });
  });

  it('"<label> /close" closes the conversation and says so in the terminal', async () => {
    const { terminal, pp, storage, sessionId, send, label } = await setup();
    await send('bye');
    await pp.flushDeliveries();
    const l = await label();
    terminal.type(`${l} /close`);
    await terminal.waitForPrinted(new RegExp(`\\[${l}\\] conversation closed`));
    expect((await storage.getSession(sessionId))?.status).toBe('closed');
  });

  it('an unknown label is refused with a hint and sends nothing', async () => {
    const { terminal, pp, storage, sessionId, send } = await setup();
    await send('hello');
    await pp.flushDeliveries();
    terminal.type('zzzzz are you there?');
    await terminal.waitForPrinted(/! no conversation \[zzzzz\]/);
    expect((await storage.getMessages(sessionId)).filter((m) => m.sender === 'operator')).toHaveLength(0);
  });

  it('visitor edits and deletes are printed as notices, since printed lines cannot change', async () => {
    const { terminal, pp, sessionId, send, label } = await setup();
    const sent = await send('helo');
    await pp.flushDeliveries();
    await pp.handleEditMessage(sent.messageId, { sessionId, content: 'hello' });
    await pp.flushDeliveries();
    await pp.handleDeleteMessage(sent.messageId, { sessionId });
    await pp.flushDeliveries();
    const l = await label();
    expect(terminal.printed()).toContain(`[${l}] visitor edited a message: hello`);
    expect(terminal.printed()).toMatch(new RegExp(`\\[${l}\\] visitor deleted a message \\(sent at \\d\\d:\\d\\d\\)`));
  });

  it('check() fails with a setup guide when replies cannot be read', async () => {
    const input = new PassThrough();
    input.destroy();
    const bridge = new ConsoleBridge({ input, output: new PassThrough() });
    const err = await bridge.check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as SetupError).formattedGuide()).toContain('the input stream is closed');
  });

  it('close() leaves the streams open (they belong to the caller) and can be called twice', async () => {
    const { terminal, bridge } = await setup();
    await bridge.close();
    await bridge.close();
    expect(terminal.input.destroyed).toBe(false);
    expect(terminal.output.writable).toBe(true);
  });
});

describe('createBridgeFromConfig', () => {
  const env = { prefix: '/pocketping', logger: silentLogger };

  it('builds a bridge named by the config', () => {
    const bridge = createBridgeFromConfig({ name: 'terminal', operatorName: 'Ana', output: 'stderr' }, env);
    expect(bridge.name).toBe('terminal');
  });

  it('refuses an unknown key or a bad output, naming the key', () => {
    expect(() => createBridgeFromConfig({ operatorname: 'Ana' }, env)).toThrow(/operatorname/);
    expect(() => createBridgeFromConfig({ output: 'file.log' }, env)).toThrow(/output/);
    let caught: unknown;
    try {
      createBridgeFromConfig({ labelLength: 1 }, env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('labelLength') });
  });
});

describe('parseReplyLine', () => {
  it('splits the label from the reply and keeps the reply as typed', () => {
    expect(parseReplyLine('k3f9q  Yes, we do!  ')).toEqual({ label: 'k3f9q', text: 'Yes, we do!' });
    expect(parseReplyLine('[k3f9q] ok')).toEqual({ label: 'k3f9q', text: 'ok' });
    expect(parseReplyLine('k3f9q')).toEqual({ label: 'k3f9q', text: '' });
    expect(parseReplyLine('   ')).toBeUndefined();
  });
});
