import type { Bridge, CustomEvent } from '@pocketping/core';
import { describe, expect, it } from 'vitest';
import { expectNoNulls, harness, newSession, sendVisitor, tab } from './helpers.js';

const frame = (name: string, data?: Record<string, unknown>) =>
  JSON.stringify({ type: 'event', data: { name, ...(data ? { data } : {}), timestamp: '2026-01-31T12:00:00.000Z' } });

describe('custom events from the widget (WebSocket frames)', () => {
  it('runs the handlers for the name and for * with the sessionId added', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const seen: [string, CustomEvent, string][] = [];
    pp.onEvent('clicked_pricing', (e, s) => {
      seen.push(['named', e, s.id]);
    });
    pp.onEvent('*', (e, s) => {
      seen.push(['any', e, s.id]);
    });
    pp.onEvent('other', () => {
      seen.push(['wrong', {} as CustomEvent, '']);
    });
    await pp.handleClientFrame(sessionId, frame('clicked_pricing', { plan: 'pro' }));
    const event = { name: 'clicked_pricing', data: { plan: 'pro' }, timestamp: '2026-01-31T12:00:00.000Z', sessionId };
    expect(seen).toEqual([
      ['named', event, sessionId],
      ['any', event, sessionId],
    ]);
  });

  it('runs the onEvent hook', async () => {
    const names: string[] = [];
    const { pp } = await harness({
      onEvent: (e) => {
        names.push(e.name);
      },
    });
    const sessionId = await newSession(pp);
    await pp.handleClientFrame(sessionId, frame('signup'));
    expect(names).toEqual(['signup']);
  });

  it("passes the event to the bridges' onCustomEvent once the session has a thread", async () => {
    const got: CustomEvent[] = [];
    const bridge: Bridge = {
      name: 'events',
      async onVisitorMessage(m) {
        return { platformMessageId: m.id, threadId: 't' };
      },
      onCustomEvent(e) {
        got.push(e);
      },
    };
    const { pp } = await harness({}, [bridge]);
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'hi');
    await pp.handleClientFrame(sessionId, frame('clicked_buy', { sku: 'A1' }));
    await pp.flushDeliveries();
    expect(got).toEqual([expect.objectContaining({ name: 'clicked_buy', data: { sku: 'A1' }, sessionId })]);
  });

  it('ignores invalid JSON and unknown frame types without throwing', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const seen: string[] = [];
    pp.onEvent('*', (e) => {
      seen.push(e.name);
    });
    for (const text of [
      'not json',
      '{"type":',
      'null',
      '42',
      '{"type":"unknown","data":{}}',
      '{"type":"event","data":{"name":""}}',
      '{"type":"event","data":{"name":"x","data":"not an object"}}',
      '{"type":"inspector_select","data":{"selector":"#a","tagName":"A","text":"Buy","url":"https://x"}}',
    ]) {
      await expect(pp.handleClientFrame(sessionId, text)).resolves.toBeUndefined();
    }
    expect(seen).toEqual([]);
  });

  it('the unsubscribe function returned by onEvent stops the handler', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const seen: string[] = [];
    const off = pp.onEvent('ping', (e) => {
      seen.push(e.name);
    });
    await pp.handleClientFrame(sessionId, frame('ping'));
    off();
    await pp.handleClientFrame(sessionId, frame('ping'));
    expect(seen).toEqual(['ping']);
  });

  it('a throwing handler does not stop the others', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const seen: string[] = [];
    pp.onEvent('x', () => {
      throw new Error('handler bug');
    });
    pp.onEvent('*', (e) => {
      seen.push(e.name);
    });
    await pp.handleClientFrame(sessionId, frame('x'));
    expect(seen).toEqual(['x']);
  });
});

describe('server → widget pushes', () => {
  it('emitEvent delivers an event envelope to one session', async () => {
    const { pp } = await harness();
    const a = await newSession(pp);
    const b = await newSession(pp);
    const ta = tab(pp, a);
    const tb = tab(pp, b);
    pp.emitEvent(a, 'coupon', { code: 'WELCOME10' });
    expect(ta.frames).toEqual([
      {
        type: 'event',
        data: { name: 'coupon', data: { code: 'WELCOME10' }, timestamp: expect.any(String), sessionId: a },
      },
    ]);
    expect(tb.frames).toEqual([]);
    expectNoNulls(ta.frames);
  });

  it('broadcastEvent delivers an event envelope to every session', async () => {
    const { pp } = await harness();
    const tabs = [tab(pp, await newSession(pp)), tab(pp, await newSession(pp))];
    pp.broadcastEvent('maintenance', { inMinutes: 5 });
    for (const t of tabs) {
      expect(t.frames).toEqual([
        { type: 'event', data: { name: 'maintenance', data: { inMinutes: 5 }, timestamp: expect.any(String) } },
      ]);
    }
  });

  it('setOperatorOnline pushes presence to every session and changes /connect and /presence', async () => {
    const { pp } = await harness();
    const tabs = [tab(pp, await newSession(pp)), tab(pp, await newSession(pp))];
    pp.setOperatorOnline(true);
    for (const t of tabs) expect(t.frames).toEqual([{ type: 'presence', data: { online: true } }]);
    expect(await pp.handlePresence()).toMatchObject({ online: true });
    expect((await pp.handleConnect({ visitorId: 'v-presence', sessionId: null, metadata: {} })).operatorOnline).toBe(
      true,
    );
  });

  it('setTrackedElements pushes config_update and the next connect returns them', async () => {
    const { pp } = await harness();
    const t = tab(pp, await newSession(pp));
    const trackedElements = [{ selector: '.cta', name: 'cta_click' }];
    pp.setTrackedElements(trackedElements);
    expect(t.frames).toEqual([{ type: 'config_update', data: { trackedElements } }]);
    expect((await pp.handleConnect({ visitorId: 'v-te', sessionId: null, metadata: {} })).trackedElements).toEqual(
      trackedElements,
    );
  });

  it('an operator message reaches the widget as a message event with status sent', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    const t = tab(pp, sessionId);
    const m = await pp.sendMessage(sessionId, { content: 'Hi there', operatorName: 'Ana' });
    expect(t.frames).toEqual([
      {
        type: 'message',
        data: {
          id: m.id,
          sessionId,
          content: 'Hi there',
          sender: 'operator',
          timestamp: m.timestamp.toISOString(),
          status: 'sent',
          operatorName: 'Ana',
        },
        seq: 1,
      },
    ]);
  });

  it('streamReplay replays messages changed after the cursor as message envelopes', async () => {
    const { pp } = await harness({}, []);
    const sessionId = await newSession(pp);
    await sendVisitor(pp, sessionId, 'old');
    const since = new Date(Date.now() + 60_000);
    await pp.sendMessage(sessionId, { content: 'new' });
    const frames = (await pp.streamReplay(sessionId, { after: since })).map((f) => JSON.parse(f.json));
    expect(frames.map((f) => [f.type, f.data.content])).toContainEqual(['message', 'new']);
  });

  it('a listener that throws does not stop delivery to the other tabs', async () => {
    const { pp } = await harness();
    const sessionId = await newSession(pp);
    pp.subscribe(sessionId, () => {
      throw new Error('socket gone');
    });
    const t = tab(pp, sessionId);
    await pp.sendMessage(sessionId, { content: 'still arrives' });
    expect(t.of('message')).toHaveLength(1);
  });
});
