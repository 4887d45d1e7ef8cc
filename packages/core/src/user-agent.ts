/** What `parseUserAgent` finds. */
type UserAgentFacts = { browser?: string; os?: string; deviceType?: string };

/** Recent answers: a site sees few distinct User-Agent strings, and /connect parses one per call. */
const recent = new Map<string, UserAgentFacts>();
const RECENT_MAX = 1000;

/** Browser, OS and device type guessed from a User-Agent string (best effort, no dependency). */
export function parseUserAgent(ua: string | undefined): UserAgentFacts {
  if (!ua) return {};
  let facts = recent.get(ua);
  if (!facts) {
    facts = guess(ua);
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(ua, facts);
  }
  // A copy: callers may change what they get.
  return { ...facts };
}

function guess(ua: string): UserAgentFacts {
  const out: UserAgentFacts = {};
  if (/Edg\//.test(ua)) out.browser = 'Edge';
  else if (/OPR\/|Opera/.test(ua)) out.browser = 'Opera';
  else if (/Firefox\//.test(ua)) out.browser = 'Firefox';
  else if (/HeadlessChrome/.test(ua)) out.browser = 'Headless Chrome';
  else if (/Chrome\/|CriOS\//.test(ua)) out.browser = 'Chrome';
  else if (/Safari\//.test(ua) && /Version\//.test(ua)) out.browser = 'Safari';
  if (/Windows NT/.test(ua)) out.os = 'Windows';
  else if (/iPhone|iPad|iPod/.test(ua)) out.os = 'iOS';
  else if (/Mac OS X|Macintosh/.test(ua)) out.os = 'macOS';
  else if (/Android/.test(ua)) out.os = 'Android';
  else if (/CrOS/.test(ua)) out.os = 'ChromeOS';
  else if (/Linux/.test(ua)) out.os = 'Linux';
  if (/iPad|Tablet/.test(ua) || (/Android/.test(ua) && !/Mobile/.test(ua))) out.deviceType = 'tablet';
  else if (/Mobi|iPhone|iPod|Android/.test(ua)) out.deviceType = 'mobile';
  else out.deviceType = 'desktop';
  return out;
}
