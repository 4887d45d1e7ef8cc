import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ipMatchesAny,
  ipMatchesCidr,
  isBot,
  PocketPing,
  type PocketPingOptions,
  ProtocolHttpHandler,
  type ProtocolHttpRequest,
  silentLogger,
} from '../src/index.js';

const enc = new TextEncoder();
function req(path: string, body?: unknown, extra: Partial<ProtocolHttpRequest> = {}): ProtocolHttpRequest {
  return {
    method: 'POST',
    path,
    query: {},
    headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0' },
    ...(body === undefined ? {} : { body: enc.encode(JSON.stringify(body)) }),
    ip: '203.0.113.10',
    baseUrl: 'http://127.0.0.1/pocketping',
    ...extra,
  };
}

async function setup(options: PocketPingOptions = {}) {
  const pp = new PocketPing({ logger: silentLogger, ...options });
  await pp.init();
  return { pp, http: new ProtocolHttpHandler(pp, { apiKey: 'security-test-admin-key' }) };
}

describe('IP ranges', () => {
  it('matches IPv4 and IPv6 addresses against CIDR ranges', () => {
    expect(ipMatchesCidr('10.1.2.3', '10.0.0.0/8')).toBe(true);
    expect(ipMatchesCidr('11.1.2.3', '10.0.0.0/8')).toBe(false);
    expect(ipMatchesCidr('192.168.1.77', '192.168.1.77')).toBe(true);
    expect(ipMatchesCidr('::ffff:10.9.9.9', '10.0.0.0/8')).toBe(true);
    expect(ipMatchesCidr('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(ipMatchesCidr('2001:db9::1', '2001:db8::/32')).toBe(false);
    expect(ipMatchesCidr('::1', '::1/128')).toBe(true);
    expect(ipMatchesCidr('10.0.0.1', '2001:db8::/32')).toBe(false);
    expect(ipMatchesCidr('not-an-ip', '10.0.0.0/8')).toBe(false);
    expect(ipMatchesCidr('10.0.0.1', '10.0.0.0/33')).toBe(false);
    expect(ipMatchesAny('172.16.5.4', ['10.0.0.0/8', '172.16.0.0/12'])).toBe(true);
  });

  it('recognises common bots and scripted clients', () => {
    expect(isBot('Mozilla/5.0 (compatible; Googlebot/2.1)')).toBe(true);
    expect(isBot('curl/8.5.0')).toBe(true);
    expect(isBot('Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/130.0')).toBe(true);
    expect(isBot(undefined)).toBe(true);
    expect(
      isBot('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15'),
    ).toBe(false);
  });
});

describe('access filters', () => {
  it('a blocked network gets 403 on widget routes but platforms and admins still get through', async () => {
    const { pp, http } = await setup({ security: { ipFilter: { block: ['203.0.113.0/24'] } } });
    const res = await http.handle(req('/connect', { visitorId: 'v', sessionId: null }));
    expect(res.status).toBe(403);
    expect(res.kind === 'json' && (res.body as { error: string }).error).toBe('ACCESS_FORBIDDEN');
    const admin = await http.handle(
      req('/admin/sessions', undefined, {
        method: 'GET',
        headers: { authorization: 'Bearer security-test-admin-key' },
      }),
    );
    expect(admin.status).toBe(200);
    await pp.close();
  });

  it('an allow list admits only its networks', async () => {
    const { pp, http } = await setup({ security: { ipFilter: { allow: ['198.51.100.0/24'] } } });
    expect((await http.handle(req('/connect', { visitorId: 'v', sessionId: null }))).status).toBe(403);
    const ok = await http.handle(req('/connect', { visitorId: 'v', sessionId: null }, { ip: '198.51.100.7' }));
    expect(ok.status).toBe(200);
    await pp.close();
  });

  it('bot blocking refuses crawlers and lets browsers in', async () => {
    const { pp, http } = await setup({ security: { uaFilter: { blockBots: true } } });
    const bot = await http.handle(
      req(
        '/connect',
        { visitorId: 'v', sessionId: null },
        { headers: { 'content-type': 'application/json', 'user-agent': 'python-requests/2.31' } },
      ),
    );
    expect(bot.status).toBe(403);
    expect((await http.handle(req('/connect', { visitorId: 'v', sessionId: null }))).status).toBe(200);
    await pp.close();
  });

  it('filters are off by default', async () => {
    const { pp, http } = await setup();
    const res = await http.handle(
      req(
        '/connect',
        { visitorId: 'v', sessionId: null },
        { headers: { 'user-agent': 'curl/8.0', 'content-type': 'application/json' } },
      ),
    );
    expect(res.status).toBe(200);
    await pp.close();
  });

  it('automated browsers are refused on connect when blockHeadless is on', async () => {
    const { pp, http } = await setup({ security: { blockHeadless: true } });
    const res = await http.handle(
      req('/connect', { visitorId: 'v', sessionId: null, metadata: { botSignals: { webdriver: true } } }),
    );
    expect(res.status).toBe(403);
    await pp.close();
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After past the per-IP limit', async () => {
    const { pp, http } = await setup({ security: { rateLimit: { perIp: { max: 3, windowMs: 60_000 } } } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await http.handle(req('/connect', { visitorId: `v${i}`, sessionId: null }))).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await http.handle(req('/connect', { visitorId: 'x', sessionId: null }));
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another client is not affected.
    expect(
      (await http.handle(req('/connect', { visitorId: 'y', sessionId: null }, { ip: '203.0.113.99' }))).status,
    ).toBe(200);
    await pp.close();
  });

  it('limits messages per session, but never typing pulses', async () => {
    const { pp, http } = await setup({ security: { rateLimit: { perSession: { max: 2, windowMs: 60_000 } } } });
    const c = await http.handle(req('/connect', { visitorId: 'v', sessionId: null }));
    const sessionId = (c as { body: { sessionId: string } }).body.sessionId;
    const send = () => http.handle(req('/message', { sessionId, content: 'hi', attachmentIds: [] }));
    expect([(await send()).status, (await send()).status, (await send()).status]).toEqual([200, 200, 429]);
    for (let i = 0; i < 20; i++)
      expect((await http.handle(req('/typing', { sessionId, isTyping: true }))).status).toBe(200);
    expect(await pp.getMessages(sessionId)).toHaveLength(2);
    await pp.close();
  });
});

describe('signed identities', () => {
  const secret = 'identity-secret-0123456789';
  const sign = (id: string) => createHmac('sha256', secret).update(id).digest('hex');

  it('a correct hash marks the identity verified and is not stored', async () => {
    const { pp } = await setup({ security: { identitySecret: secret } });
    const c = await pp.handleConnect({ visitorId: 'v', sessionId: null });
    await pp.handleIdentify({
      sessionId: c.sessionId,
      identity: { id: 'user-1', email: 'a@b.co', hash: sign('user-1') },
    });
    const s = await pp.getSession(c.sessionId);
    expect(s!.identity).toEqual({ id: 'user-1', email: 'a@b.co', verified: true });
    await pp.close();
  });

  it('a wrong hash is refused on identify and dropped on connect', async () => {
    const { pp } = await setup({ security: { identitySecret: secret } });
    const c = await pp.handleConnect({
      visitorId: 'v',
      sessionId: null,
      identity: { id: 'admin', hash: sign('someone-else') },
    });
    expect(c.identity).toBeUndefined();
    await expect(
      pp.handleIdentify({ sessionId: c.sessionId, identity: { id: 'admin', hash: 'deadbeef' } }),
    ).rejects.toMatchObject({
      code: 'ACCESS_FORBIDDEN',
    });
    await pp.close();
  });

  it('unsigned identities are kept unverified, or refused when signatures are required', async () => {
    const lenient = await setup({ security: { identitySecret: secret } });
    const c1 = await lenient.pp.handleConnect({ visitorId: 'v', sessionId: null });
    await lenient.pp.handleIdentify({ sessionId: c1.sessionId, identity: { id: 'u' } });
    expect((await lenient.pp.getSession(c1.sessionId))!.identity).toEqual({ id: 'u', verified: false });
    await lenient.pp.close();
    const strict = await setup({ security: { identitySecret: secret, requireSignedIdentity: true } });
    const c2 = await strict.pp.handleConnect({ visitorId: 'v', sessionId: null });
    await expect(strict.pp.handleIdentify({ sessionId: c2.sessionId, identity: { id: 'u' } })).rejects.toMatchObject({
      code: 'ACCESS_FORBIDDEN',
    });
    await strict.pp.close();
  });
});
