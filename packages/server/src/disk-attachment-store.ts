import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type AttachmentStore, type StoredObjectInfo, ValidationError } from '@pocketping/core';

/**
 * Stores uploaded files on the local disk, one file per attachment under `dir`.
 *
 * @example
 * ```ts
 * const store = new DiskAttachmentStore({ dir: './data/uploads' });
 * ```
 */
export class DiskAttachmentStore implements AttachmentStore {
  /** Absolute directory holding the files. */
  readonly dir: string;

  constructor(options: { dir: string }) {
    this.dir = resolve(options.dir);
  }

  private pathFor(key: string): string {
    // Keys are built by core from URL-safe ids (`<sessionId>/<attachmentId>`); anything else is refused
    // so a key can never escape the upload directory.
    if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(key)) {
      throw new ValidationError(`invalid attachment storage key: ${key.slice(0, 80)}`);
    }
    return join(this.dir, key);
  }

  async put(
    key: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    info: { mimeType: string; maxBytes?: number },
  ): Promise<StoredObjectInfo> {
    const path = this.pathFor(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Date.now()}.part`;
    let size = 0;
    const limit = info.maxBytes;
    const source = data instanceof Uint8Array ? Readable.from([data]) : Readable.from(data);
    async function* counted(src: AsyncIterable<Uint8Array>) {
      for await (const chunk of src) {
        size += chunk.byteLength;
        if (limit !== undefined && size > limit) {
          throw new ValidationError(`the file is larger than the ${limit} bytes announced or allowed`, {
            code: 'ATTACHMENT_TOO_LARGE',
            details: { limit },
          });
        }
        yield chunk;
      }
    }
    try {
      await pipeline(source, counted, createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { size, mimeType: info.mimeType };
  }

  async get(key: string): Promise<{ data: AsyncIterable<Uint8Array>; info: StoredObjectInfo } | null> {
    const info = await this.stat(key);
    if (!info) return null;
    return { data: createReadStream(this.pathFor(key)), info };
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    try {
      const s = await stat(this.pathFor(key));
      return s.isFile() ? { size: s.size } : null;
    } catch {
      return null;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathFor(key), { force: true });
  }
}
