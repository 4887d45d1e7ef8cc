import type { IncomingFile } from '@pocketping/core';

/** The fields of a Slack file object that the bridge reads. */
export interface SlackFile {
  id?: string;
  name?: string;
  title?: string;
  mimetype?: string;
  size?: number;
  mode?: string;
  url_private?: string;
  url_private_download?: string;
}

/**
 * True when the bot token may be sent to `url`: Slack's own hosts over https, or the origin of
 * a configured `apiUrl` (tests, proxies). Events are signed, but the token is never sent to a
 * host that merely appears in a payload.
 */
export function isTrustedFileUrl(url: string, extraOrigin?: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (extraOrigin && u.origin === extraOrigin) return true;
  return u.protocol === 'https:' && (u.hostname === 'slack.com' || u.hostname.endsWith('.slack.com'));
}

/**
 * Downloads a file shared in Slack with the bot token (`Authorization: Bearer`). Slack answers
 * an unauthorized download with its HTML login page and status 200, so an HTML body for a
 * non-HTML file counts as a failure.
 */
export async function downloadSlackFile(
  file: SlackFile,
  options: { botToken: string; extraOrigin?: string; fetch?: typeof fetch },
): Promise<IncomingFile> {
  const url = file.url_private_download ?? file.url_private;
  if (!url) throw new Error(`file ${file.id ?? '?'} has no url_private`);
  if (!isTrustedFileUrl(url, options.extraOrigin))
    throw new Error(`refusing to send the bot token to ${new URL(url).host}`);
  const res = await (options.fetch ?? fetch)(url, { headers: { Authorization: `Bearer ${options.botToken}` } });
  if (!res.ok) throw new Error(`download of ${file.name ?? file.id} answered HTTP ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  const mimeType = file.mimetype || type.split(';')[0]?.trim() || 'application/octet-stream';
  if (type.startsWith('text/html') && !mimeType.startsWith('text/html')) {
    throw new Error(`download of ${file.name ?? file.id} returned a login page: the token needs the files:read scope`);
  }
  const data = new Uint8Array(await res.arrayBuffer());
  return {
    filename: file.name || file.title || 'file',
    mimeType,
    data,
    ...(file.id ? { bridgeFileId: file.id } : {}),
  };
}
