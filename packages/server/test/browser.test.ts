import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltServer, buildServer } from '../src/build-server.js';
import { parseConfig } from '../src/config.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM)
  ? false
  : `Chromium not found at ${CHROMIUM} (run \`pnpm services\`, which installs Debian's chromium)`;
if (missing && process.env.CI) throw new Error(`${missing}; CI requires it`);
if (missing) console.warn(`[browser] skipped: ${missing}`);

const API_KEY = 'browser-test-admin-key-123456';
let server: BuiltServer;
let origin: string;
let browser: Browser;
let dir: string;

describe.skipIf(Boolean(missing))('demo page and inbox in headless Chromium', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pp-browser-'));
    server = await buildServer(
      parseConfig({
        server: { apiKey: API_KEY },
        uploads: { dir },
        widget: { welcomeMessage: 'Hi! How can we help?' },
      }),
      {
        logger: false,
      },
    );
    origin = await server.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.app.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a visitor and an operator chat both ways, with edit, delete and history after reload', async () => {
    const visitorCtx = await browser.newContext();
    const operatorCtx = await browser.newContext();
    const visitor = await visitorCtx.newPage();
    const operator = await operatorCtx.newPage();
    try {
      await visitor.goto(`${origin}/`);
      await visitor.waitForSelector('body[data-ready="true"]');
      await visitor.waitForSelector('body[data-realtime="websocket"]');
      await expect.poll(() => visitor.locator('.msg.welcome').textContent()).toBe('Hi! How can we help?');

      await visitor.fill('[data-testid=input]', 'Hello, do you ship to Canada?');
      await visitor.click('[data-testid=send]');
      const visitorMsgs = visitor.locator('[data-testid=message][data-sender=visitor]');
      await expect.poll(() => visitorMsgs.count()).toBe(1);
      await expect.poll(() => visitorMsgs.first().locator('.text').textContent()).toBe('Hello, do you ship to Canada?');
      await expect
        .poll(() => visitorMsgs.first().locator('[data-testid=meta]').textContent())
        .toMatch(/sent|delivered/);

      await operator.goto(`${origin}/inbox#key=${API_KEY}`);
      await operator.locator('[data-testid=session]').first().click();
      await expect
        .poll(() => operator.locator('[data-testid=thread-message][data-sender=visitor]').first().textContent(), {
          timeout: 5000,
        })
        .toContain('Hello, do you ship to Canada?');
      await operator.fill('[data-testid=reply-input]', 'Yes, we ship to Canada in 3-5 days.');
      await operator.click('[data-testid=reply-send]');

      const operatorMsgs = visitor.locator('[data-testid=message][data-sender=operator]');
      await expect.poll(() => operatorMsgs.count(), { timeout: 5000 }).toBe(1);
      await expect
        .poll(() => operatorMsgs.first().locator('.text').textContent())
        .toBe('Yes, we ship to Canada in 3-5 days.');

      // The visitor saw the reply: the stored operator message turns read.
      const sessionId = (await visitor.evaluate('localStorage.getItem("pp_demo_session")')) as string | null;
      await expect
        .poll(
          async () => (await server.pocketping.getMessages(sessionId!)).find((m) => m.sender === 'operator')?.status,
          { timeout: 5000 },
        )
        .toBe('read');

      visitor.once('dialog', (d) => void d.accept('Hello, do you ship to Canada and Mexico?'));
      await visitorMsgs.first().locator('[data-testid=edit]').click();
      await expect
        .poll(() => visitorMsgs.first().locator('.text').textContent())
        .toBe('Hello, do you ship to Canada and Mexico?');
      await expect
        .poll(() => operator.locator('[data-testid=thread-message][data-sender=visitor]').first().textContent(), {
          timeout: 5000,
        })
        .toContain('Canada and Mexico');

      await visitor.fill('[data-testid=input]', 'oops, wrong window');
      await visitor.click('[data-testid=send]');
      await expect.poll(() => visitorMsgs.count()).toBe(2);
      await expect.poll(() => visitorMsgs.nth(1).locator('[data-testid=delete]').count()).toBe(1);
      await visitorMsgs.nth(1).locator('[data-testid=delete]').click();
      await expect.poll(() => visitorMsgs.nth(1).locator('.text').textContent()).toBe('Message deleted');

      await visitor.reload();
      await visitor.waitForSelector('body[data-ready="true"]');
      const all = visitor.locator('[data-testid=message]');
      await expect.poll(() => all.count()).toBe(3);
      const texts = await all.locator('.text').allTextContents();
      expect(texts).toEqual([
        'Hello, do you ship to Canada and Mexico?',
        'Yes, we ship to Canada in 3-5 days.',
        'Message deleted',
      ]);
      await visitor.screenshot({ path: join(dir, 'demo.png') });
    } finally {
      await visitorCtx.close();
      await operatorCtx.close();
    }
  }, 60_000);
});
