import type { Attachment } from '@pocketping/core';
import type { RawFile } from 'discord.js';

const DOWNLOAD_TIMEOUT_MS = 15_000;

/**
 * Reads a URL into memory, refusing more than `maxBytes`. Returns null on any failure: callers
 * fall back to a link, which is better than losing or endlessly retrying a message.
 */
export async function download(url: string, maxBytes: number): Promise<{ data: Buffer; mimeType?: string } | null> {
  if (!/^https?:\/\//i.test(url)) return null;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!res.ok || !res.body) return null;
    const announced = Number(res.headers.get('content-length') ?? '0');
    if (announced > maxBytes) {
      await res.body.cancel();
      return null;
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > maxBytes) return null;
      chunks.push(chunk);
    }
    const mimeType = res.headers.get('content-type')?.split(';')[0]?.trim();
    return { data: Buffer.concat(chunks), ...(mimeType ? { mimeType } : {}) };
  } catch {
    return null;
  }
}

/** Visitor files for one Discord message: uploaded while they fit, linked otherwise. */
export async function prepareFiles(
  attachments: readonly Attachment[] | undefined,
  maxBytes: number,
): Promise<{ files: RawFile[]; links: { filename: string; url: string }[] }> {
  const files: RawFile[] = [];
  const links: { filename: string; url: string }[] = [];
  let budget = maxBytes;
  for (const a of attachments ?? []) {
    if (a.status !== 'ready' || !a.url) continue;
    const fetched = a.size <= budget && files.length < 10 ? await download(a.url, budget) : null;
    if (fetched) {
      budget -= fetched.data.byteLength;
      files.push({ name: a.filename, data: fetched.data, contentType: a.mimeType });
    } else {
      links.push({ filename: a.filename, url: a.url });
    }
  }
  return { files, links };
}
