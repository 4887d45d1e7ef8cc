import { z } from 'zod';

/** Substrings (case-insensitive) of User-Agents that belong to crawlers, scrapers and tools. */
export const DEFAULT_BOT_PATTERNS: readonly string[] = [
  'bot',
  'crawl',
  'spider',
  'slurp',
  'bingpreview',
  'facebookexternalhit',
  'embedly',
  'quora link preview',
  'showyoubot',
  'outbrain',
  'pinterest',
  'vkshare',
  'w3c_validator',
  'whatsapp',
  'flipboard',
  'tumblr',
  'bitlybot',
  'skypeuripreview',
  'nuzzel',
  'discordbot',
  'google page speed',
  'lighthouse',
  'chrome-lighthouse',
  'headlesschrome',
  'phantomjs',
  'puppeteer',
  'playwright',
  'selenium',
  'webdriver',
  'python-requests',
  'python-urllib',
  'aiohttp',
  'httpx',
  'go-http-client',
  'okhttp',
  'java/',
  'apache-httpclient',
  'libwww-perl',
  'curl/',
  'wget/',
  'httpie',
  'postmanruntime',
  'insomnia',
  'node-fetch',
  'axios/',
  'undici',
  'scrapy',
  'mechanize',
  'ahrefs',
  'semrush',
  'mj12',
  'dotbot',
  'petalbot',
  'yandex',
  'baiduspider',
  'sogou',
  'exabot',
  'gptbot',
  'claudebot',
  'ccbot',
];

/** Abuse protection settings; everything is off or lenient by default. */
export const SecuritySchema = z.object({
  /** Requests per client IP and per session in a window; 429 with Retry-After beyond. */
  rateLimit: z
    .object({
      enabled: z.boolean().default(true),
      /** @default { max: 1200, windowMs: 60000 } */
      perIp: z
        .object({ max: z.number().int().positive(), windowMs: z.number().int().positive() })
        .default({ max: 1200, windowMs: 60_000 }),
      /** Applies to message, upload, identify, pre-chat and CSAT calls. @default { max: 120, windowMs: 60000 } */
      perSession: z
        .object({ max: z.number().int().positive(), windowMs: z.number().int().positive() })
        .default({ max: 120, windowMs: 60_000 }),
    })
    .default({ enabled: true, perIp: { max: 1200, windowMs: 60_000 }, perSession: { max: 120, windowMs: 60_000 } }),
  /** IP allow and block lists (addresses or CIDR ranges, IPv4 and IPv6). A non-empty allow list admits only those. */
  ipFilter: z
    .object({ allow: z.array(z.string()).default([]), block: z.array(z.string()).default([]) })
    .default({ allow: [], block: [] }),
  /** User-Agent filtering: `blockBots` uses DEFAULT_BOT_PATTERNS; `block`/`allow` add substrings or `/regex/`. */
  uaFilter: z
    .object({
      blockBots: z.boolean().default(false),
      block: z.array(z.string()).default([]),
      allow: z.array(z.string()).default([]),
    })
    .default({ blockBots: false, block: [], allow: [] }),
  /** Refuse `/connect` from browsers that report being automated (botSignals.webdriver). @default false */
  blockHeadless: z.boolean().default(false),
  /** Key of signed identities: `identity.hash` must be the hex HMAC-SHA256 of `identity.id`. */
  identitySecret: z.string().min(16, 'identitySecret must be at least 16 characters').optional(),
  /** With `identitySecret`: refuse identities without a valid hash (otherwise they are kept unverified). @default false */
  requireSignedIdentity: z.boolean().default(false),
});
/** Abuse protection settings (input). */
export type SecurityOptions = z.input<typeof SecuritySchema>;

// ─────────────────────────────── IP ranges ───────────────────────────────

function parseIPv4(ip: string): bigint | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseIPv6(ip: string): bigint | null {
  let addr = ip.toLowerCase();
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  // IPv4-mapped tail (::ffff:1.2.3.4).
  const v4 = addr.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const tail = parseIPv4(v4[2]!);
    if (tail === null) return null;
    addr = `${v4[1]}${((tail >> 16n) & 0xffffn).toString(16)}:${(tail & 0xffffn).toString(16)}`;
  }
  const halves = addr.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return n;
}

/** A parsed address: IPv4-mapped IPv6 addresses count as IPv4. */
function parseIp(ip: string): { v: 4 | 6; n: bigint } | null {
  const v4 = parseIPv4(ip);
  if (v4 !== null) return { v: 4, n: v4 };
  const v6 = parseIPv6(ip);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { v: 4, n: v6 & 0xffffffffn };
  return { v: 6, n: v6 };
}

/** True when `ip` is inside `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or a single address). */
export function ipMatchesCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.trim().split('/');
  const addr = parseIp(ip.trim());
  const net = parseIp(base ?? '');
  if (!addr || !net || addr.v !== net.v) return false;
  const width = addr.v === 4 ? 32 : 128;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > width) return false;
  const shift = BigInt(width - bits);
  return addr.n >> shift === net.n >> shift;
}

/** True when `ip` matches any of the addresses or ranges. */
export function ipMatchesAny(ip: string, ranges: readonly string[]): boolean {
  return ranges.some((r) => ipMatchesCidr(ip, r));
}

/** True when `ua` matches a pattern: a case-insensitive substring or a `/regex/`. */
export function matchesAnyPattern(ua: string, patterns: readonly string[]): boolean {
  const lower = ua.toLowerCase();
  return patterns.some((p) => {
    if (p.length > 2 && p.startsWith('/') && p.endsWith('/')) {
      try {
        return new RegExp(p.slice(1, -1), 'i').test(ua);
      } catch {
        return false;
      }
    }
    return lower.includes(p.toLowerCase());
  });
}

/** True when a User-Agent looks like a bot or a scripted client. */
export function isBot(ua: string | undefined): boolean {
  if (!ua) return true;
  return matchesAnyPattern(ua, DEFAULT_BOT_PATTERNS);
}

// ─────────────────────────────── rate limits ───────────────────────────────

/**
 * Fixed-window counters per key, in process memory. Hand-written (rather than
 * @fastify/rate-limit) because the same pipeline serves Fastify, Express and fetch runtimes.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Counts one hit; returns the seconds to wait when over the limit, else 0. */
  hit(key: string, now = Date.now()): number {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.windows.size > 100_000) this.sweep(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return w.count > this.max ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    if (this.windows.size > 100_000) this.windows.clear();
  }
}

/** Hex HMAC-SHA256 of a visitor's id, as the host app computes `identity.hash`. */
export async function identityHash(secret: string, id: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await globalThis.crypto.subtle.importKey(
    'raw',
    enc.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const sig = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, enc.encode(id)));
  return Array.from(sig, (b) => b.toString(16).padStart(2, '0')).join('');
}
