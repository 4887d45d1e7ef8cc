import type { Attachment } from '@pocketping/core';
import { InputFile } from 'grammy';

/** Largest file the Bot API accepts as an upload (documents; photos allow 10 MB). */
export const UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024;

/** Image types Telegram shows as photos; other images are sent as documents. */
const PHOTO_TYPES = new Set(['image/jpeg', 'image/jpg', 'image/png', 'image/webp']);

/** True when the attachment should go out with `sendPhoto`. */
export function isPhoto(attachment: Attachment): boolean {
  return PHOTO_TYPES.has(attachment.mimeType.toLowerCase().split(';')[0]!.trim());
}

/** Bytes of an attachment, ready to upload, or its URL when the bytes cannot be fetched here. */
export type FileSource = { bytes: Uint8Array; filename: string } | { url: string };

/**
 * Fetches the attachment's bytes from its URL, so Telegram gets an upload even when the URL
 * is not reachable from the internet. When this server cannot fetch it (or it is too large to
 * upload), the URL itself is returned and Telegram is asked to fetch it.
 */
export async function loadAttachment(attachment: Attachment, timeoutMs = 30_000): Promise<FileSource> {
  try {
    const res = await fetch(attachment.url, { signal: AbortSignal.timeout(timeoutMs) });
    const length = Number(res.headers.get('content-length') ?? 0);
    if (!res.ok || length > UPLOAD_LIMIT_BYTES) {
      await res.body?.cancel();
      return { url: attachment.url };
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength > UPLOAD_LIMIT_BYTES) return { url: attachment.url };
    return { bytes, filename: attachment.filename };
  } catch {
    return { url: attachment.url };
  }
}

/** What grammy sends for a source; an `InputFile` can be read once, so build one per call. */
export function toInput(source: FileSource): InputFile | string {
  return 'url' in source ? source.url : new InputFile(source.bytes, source.filename);
}
