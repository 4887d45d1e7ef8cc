/** Facts about stored bytes. */
export interface StoredObjectInfo {
  size: number;
  mimeType?: string;
}

/**
 * Where uploaded file bytes live. The server ships a local-disk store; S3-like stores implement
 * the same contract (and may hand out presigned upload URLs).
 */
export interface AttachmentStore {
  /** Writes bytes under `key`. Rejects with `ValidationError` when `maxBytes` is exceeded. */
  put(
    key: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    info: { mimeType: string; maxBytes?: number },
  ): Promise<StoredObjectInfo>;
  /** Reads bytes, or null when missing. */
  get(key: string): Promise<{ data: AsyncIterable<Uint8Array> | Uint8Array; info: StoredObjectInfo } | null>;
  /** Size and type of stored bytes, or null when missing. */
  stat(key: string): Promise<StoredObjectInfo | null>;
  /** Removes bytes (no error when missing). */
  delete(key: string): Promise<void>;
  /**
   * A presigned URL the browser can `PUT` the bytes to directly. When absent, the server
   * receives the upload itself at `{endpoint}/upload/{attachmentId}`.
   */
  createUploadUrl?(key: string, options: { mimeType: string; size: number; expiresAt: Date }): Promise<string>;
  /** A public URL for reading; when absent, the server serves `{endpoint}/files/...`. */
  publicUrl?(key: string): string;
}
