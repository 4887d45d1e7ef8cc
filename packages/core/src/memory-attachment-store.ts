import type { AttachmentStore, StoredObjectInfo } from './attachment-store.js';
import { ValidationError } from './errors.js';

/** Reads bytes into one buffer, stopping with a clear error past `maxBytes`. */
export async function collectBytes(
  data: Uint8Array | AsyncIterable<Uint8Array>,
  maxBytes?: number,
): Promise<Uint8Array> {
  if (data instanceof Uint8Array) {
    if (maxBytes !== undefined && data.byteLength > maxBytes) throw tooLarge(maxBytes);
    return data;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of data) {
    total += chunk.byteLength;
    if (maxBytes !== undefined && total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function tooLarge(maxBytes: number): ValidationError {
  return new ValidationError(`the file is larger than the ${maxBytes} bytes announced or allowed`, {
    code: 'ATTACHMENT_TOO_LARGE',
    details: { limit: maxBytes },
  });
}

/**
 * Keeps uploaded bytes in process memory. For tests and demos; use the server's disk store or
 * an object store in production.
 */
export class MemoryAttachmentStore implements AttachmentStore {
  private readonly objects = new Map<string, { data: Uint8Array; mimeType: string }>();

  async put(
    key: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    info: { mimeType: string; maxBytes?: number },
  ): Promise<StoredObjectInfo> {
    const bytes = await collectBytes(data, info.maxBytes);
    this.objects.set(key, { data: bytes, mimeType: info.mimeType });
    return { size: bytes.byteLength, mimeType: info.mimeType };
  }

  async get(key: string): Promise<{ data: Uint8Array; info: StoredObjectInfo } | null> {
    const o = this.objects.get(key);
    return o ? { data: o.data, info: { size: o.data.byteLength, mimeType: o.mimeType } } : null;
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    const o = this.objects.get(key);
    return o ? { size: o.data.byteLength, mimeType: o.mimeType } : null;
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
}
