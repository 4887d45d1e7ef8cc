import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageConformance } from '@pocketping/conformance';
import { afterAll } from 'vitest';
import { JsonFileStorage } from '../src/json-file-storage.js';

// A fresh file per storage; the directory goes when the file's tests are done.
const dir = mkdtempSync(join(tmpdir(), 'pp-json-storage-'));
let counter = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storageConformance({
  name: 'JsonFileStorage (user-written)',
  create: () => new JsonFileStorage({ file: join(dir, `conformance-${++counter}.json`) }),
});
